// The page's outer state: find out whether the server needs a token (open development mode needs none),
// ask for one when it does, keep it in this tab's session storage, and show the dashboard once connected.
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Api, ApiError } from './api.ts';
import { Dashboard } from './dashboard.tsx';
import { Monitor } from './monitor.ts';

const TOKEN_KEY = 'converge.console.token';

type Session =
  | { phase: 'connecting' }
  | { phase: 'token'; problem: string | null }
  | { phase: 'unreachable'; problem: string; token: string | null }
  | { phase: 'live'; monitor: Monitor; token: string | null };

/** What the server's refusal means for the person at the page. */
function tokenProblem(error: ApiError, token: string | null): string {
  if (error.code === 'FORBIDDEN') return `This token is valid, but it is not an operator's or an admin's: ${error.message}`;
  if (!token) return 'This server needs a token (it runs with JWT_SECRET): paste an operator token (or an admin one where TENANCY=single).';
  return `The server refused this token: ${error.message}`;
}

const isTokenProblem = (error: unknown): error is ApiError =>
  error instanceof ApiError && (error.code === 'UNAUTHENTICATED' || error.code === 'FORBIDDEN' || error.code === '4403');

export function App() {
  const [session, setSession] = useState<Session>({ phase: 'connecting' });

  const refuse = (error: ApiError, token: string | null) => {
    sessionStorage.removeItem(TOKEN_KEY);
    setSession({ phase: 'token', problem: tokenProblem(error, token) });
  };

  async function connect(token: string | null) {
    setSession({ phase: 'connecting' });
    const monitor = new Monitor(new Api(token), (error) => {
      monitor.stop();
      refuse(error, token);
    });
    try {
      await monitor.start();
    } catch (error) {
      monitor.stop();
      if (isTokenProblem(error)) return refuse(error, token);
      return setSession({ phase: 'unreachable', problem: error instanceof Error ? error.message : String(error), token });
    }
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    setSession({ phase: 'live', monitor, token });
  }

  useEffect(() => {
    // A token kept from earlier in this tab, else none: open development mode needs none.
    void connect(sessionStorage.getItem(TOKEN_KEY));
  }, []);

  useEffect(() => (session.phase === 'live' ? () => session.monitor.stop() : undefined), [session]);

  switch (session.phase) {
    case 'connecting':
      return (
        <Frame>
          <p role="status">Connecting to the server…</p>
        </Frame>
      );
    case 'token':
      return (
        <Frame>
          <TokenForm problem={session.problem} onToken={(token) => void connect(token)} />
        </Frame>
      );
    case 'unreachable':
      return (
        <Frame>
          <p role="alert" class="problem">
            {session.problem}
          </p>
          <button type="button" onClick={() => void connect(session.token)}>
            Try again
          </button>
        </Frame>
      );
    case 'live':
      return (
        <Dashboard
          monitor={session.monitor}
          onForgetToken={
            session.token
              ? () => {
                  sessionStorage.removeItem(TOKEN_KEY);
                  setSession({ phase: 'token', problem: null });
                }
              : undefined
          }
        />
      );
  }
}

function Frame({ children }: { children: ComponentChildren }) {
  return (
    <main class="frame">
      <h1>Converge console</h1>
      {children}
    </main>
  );
}

function TokenForm({ problem, onToken }: { problem: string | null; onToken(token: string): void }) {
  const [token, setToken] = useState('');
  return (
    <form
      class="token-form"
      onSubmit={(event) => {
        event.preventDefault();
        const value = token.trim().replace(/^Bearer\s+/i, '');
        if (value) onToken(value);
      }}
    >
      {problem && (
        <p role="alert" class="problem">
          {problem}
        </p>
      )}
      <label for="token">Operator token</label>
      <input
        id="token"
        name="token"
        type="password"
        autocomplete="off"
        spellcheck={false}
        required
        value={token}
        onInput={(event) => setToken(event.currentTarget.value)}
        aria-describedby="token-help"
      />
      <p id="token-help" class="help">
        A JWT with the <code>operator</code> role (or <code>admin</code> where TENANCY=single), e.g. from{' '}
        <code>npm run cli -- token --sub you --role admin</code>. It is kept in this tab only (session storage).
      </p>
      <button type="submit">Connect</button>
    </form>
  );
}

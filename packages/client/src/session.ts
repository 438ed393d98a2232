// A client's read-your-writes session: the newest consistency token it has been given, sent with every
// operation (extensions.consistency.after), so that it reads its own writes and never reads older data
// than it has seen. Tokens are compared here, so that applications never parse them. No server code:
// this package runs in applications.

export type Session = {
  /** The token to send, if any yet. */
  readonly token: string | undefined;
  /** A token from a response: kept if it is newer than the one held, whatever order responses arrive in. */
  observe(token: unknown): void;
  /** Forgets the token (a new user, say). */
  reset(): void;
  /** The `onStale` it was created with: the helpers call it with each result the server answered stale. */
  readonly onStale?: ((result: StaleResult) => void) | undefined;
};

/** A result as the client library delivers it (Apollo's, urql's OperationResult, the JSON body for fetch). */
export type StaleResult = { readonly data?: unknown; readonly extensions?: Record<string, unknown> | undefined };

export type SessionOptions = {
  /** A token to start from (one the app kept across a reload, say). */
  token?: string | undefined;
  /**
   * Called with each result whose `extensions.consistency.stale` is true: the projections behind it did not
   * reach the session's token within the server's CONSISTENCY_TIMEOUT_MS, so its data may not show this
   * session's latest writes.
   */
  onStale?: ((result: StaleResult) => void) | undefined;
};

// The format of this service's tokens: "c1." + base-36 transaction id + "." + base-36 position.
const TOKEN = /^c1\.([0-9a-z]{1,13})\.([0-9a-z]{1,13})$/;

function parse(token: string): [bigint, bigint] | undefined {
  const m = TOKEN.exec(token);
  if (!m) return undefined;
  const base36 = (digits: string) => [...digits].reduce((n, ch) => n * 36n + BigInt(parseInt(ch, 36)), 0n);
  return [base36(m[1]!), base36(m[2]!)];
}

/** Whether `a` covers at least what `b` covers (a token this helper cannot read counts as newer). */
export function isAtOrAfter(a: string, b: string): boolean {
  const [pa, pb] = [parse(a), parse(b)];
  if (!pa || !pb) return pa === undefined;
  return pa[0] !== pb[0] ? pa[0] > pb[0] : pa[1] >= pb[1];
}

/** `createSession()`, `createSession(token)`, `createSession({ token, onStale })` or `createSession(token, { onStale })`. */
export function createSession(options?: SessionOptions): Session;
export function createSession(initial: string | undefined, options?: SessionOptions): Session;
export function createSession(first?: string | SessionOptions, second?: SessionOptions): Session {
  const options = typeof first === 'object' ? first : { ...second, token: first };
  let token = options.token;
  return {
    onStale: options.onStale,
    get token() {
      return token;
    },
    observe(value) {
      if (typeof value !== 'string' || value === '') return;
      if (token === undefined || !isAtOrAfter(token, value)) token = value;
    },
    reset() {
      token = undefined;
    },
  };
}

/** The request extensions that carry the session's token (merged into those an operation has). */
export function withSession(session: Session, extensions: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  const token = session.token;
  if (!token) return extensions;
  const consistency = (extensions?.consistency as Record<string, unknown> | undefined) ?? {};
  return { ...extensions, consistency: { ...consistency, after: token } };
}

/** The token a response carries (extensions.consistency.token), if any. */
export const tokenOf = (result: { extensions?: unknown } | null | undefined): unknown =>
  (result?.extensions as { consistency?: { token?: unknown } } | undefined)?.consistency?.token;

/** Whether the server refused the session's token (one ahead of its event log: its database was reset, say). */
function refusedSessionToken(result: { errors?: unknown } | null | undefined): boolean {
  const errors = Array.isArray(result?.errors) ? (result.errors as { extensions?: { code?: unknown; issues?: unknown } }[]) : [];
  return errors.some(
    (error) =>
      error.extensions?.code === 'BAD_USER_INPUT' &&
      Array.isArray(error.extensions.issues) &&
      (error.extensions.issues as { path?: unknown }[]).some(
        (issue) => Array.isArray(issue.path) && issue.path.join('.') === 'extensions.consistency.after',
      ),
  );
}

/** Whether a response says its data may be older than the token it was asked for. */
const isStale = (result: { extensions?: unknown } | null | undefined): boolean =>
  (result?.extensions as { consistency?: { stale?: unknown } } | undefined)?.consistency?.stale === true;

/**
 * Takes a response into the session: keeps its token, or forgets the token that was `sent` when the
 * server refused it (so that the next operation goes without, instead of failing the same way). A stale
 * answer goes to the session's onStale as `delivered`, the result the application itself receives.
 */
export function receive(
  session: Session,
  sent: string | undefined,
  result: { errors?: unknown; extensions?: unknown } | null | undefined,
  delivered: unknown = result,
) {
  if (sent !== undefined && session.token === sent && refusedSessionToken(result)) session.reset();
  else session.observe(tokenOf(result));
  if (isStale(result)) session.onStale?.(delivered as StaleResult);
}

/** How long to wait before each try again of an operation the server answered retryable (then it stands). */
export const RETRY_DELAYS_MS = [100, 300, 1000] as const;

/**
 * Whether an operation may be sent again as it is: the server answered SERVICE_UNAVAILABLE (the
 * database was away, past the server's own tries) with `retryable`, and either nothing of a command was
 * applied (`outcome` "none"), or it is a read (no `outcome`), or it is a command with a `commandId`,
 * whose repeat answers the first result.
 */
export function shouldRetry(result: { errors?: unknown } | null | undefined, variables: unknown): boolean {
  const errors = Array.isArray(result?.errors) ? (result.errors as { extensions?: Record<string, unknown> }[]) : [];
  const unavailable = errors.find((e) => e.extensions?.code === 'SERVICE_UNAVAILABLE');
  const extensions = unavailable?.extensions;
  if (extensions?.retryable !== true) return false;
  return extensions.outcome !== 'unknown' || hasCommandId(variables);
}

const hasCommandId = (value: unknown, depth = 0): boolean =>
  typeof value === 'object' &&
  value !== null &&
  depth < 3 &&
  Object.entries(value).some(([key, v]) => (key === 'commandId' && typeof v === 'string') || hasCommandId(v, depth + 1));

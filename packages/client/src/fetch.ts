// Session consistency for plain fetch users: a fetch that adds the session's token to GraphQL POST
// bodies (JSON) and keeps the token each response gives back.
import { receive, withSession, type Session } from './session.ts';

export function sessionFetch(session: Session, fetchImpl: typeof fetch = fetch): typeof fetch {
  return async (input, init) => {
    const sent = session.token;
    let body = init?.body;
    if (typeof body === 'string') {
      const request = JSON.parse(body) as { extensions?: Record<string, unknown> };
      body = JSON.stringify({ ...request, extensions: withSession(session, request.extensions) });
    }
    const response = await fetchImpl(input, { ...init, body });
    if (/json/.test(response.headers.get('content-type') ?? '')) {
      receive(
        session,
        sent,
        await response
          .clone()
          .json()
          .catch(() => undefined),
      );
    }
    return response;
  };
}

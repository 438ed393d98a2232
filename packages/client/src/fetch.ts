// Session consistency for plain fetch users: a fetch that adds the session's token to GraphQL POST
// bodies (JSON), keeps the token each response gives back, and sends an operation again (a few times)
// when the server answers that the database was away and a repeat is safe (see shouldRetry).
import { RETRY_DELAYS_MS, receive, shouldRetry, withSession, type Session } from './session.ts';

const jsonOf = (response: Response) =>
  /json/.test(response.headers.get('content-type') ?? '')
    ? response
        .clone()
        .json()
        .catch(() => undefined)
    : Promise.resolve(undefined);

export function sessionFetch(session: Session, fetchImpl: typeof fetch = fetch): typeof fetch {
  return async (input, init) => {
    let variables: unknown;
    let request: { extensions?: Record<string, unknown>; variables?: unknown } | undefined;
    if (typeof init?.body === 'string') {
      request = JSON.parse(init.body) as NonNullable<typeof request>;
      variables = request.variables;
    }
    for (let attempt = 0; ; attempt++) {
      const sent = session.token;
      const body = request ? JSON.stringify({ ...request, extensions: withSession(session, request.extensions) }) : init?.body;
      const response = await fetchImpl(input, { ...init, body });
      const result = (await jsonOf(response)) as { errors?: unknown; extensions?: unknown } | undefined;
      if (attempt < RETRY_DELAYS_MS.length && shouldRetry(result, variables)) {
        await new Promise((resolve) => setTimeout(resolve, RETRY_DELAYS_MS[attempt]));
        continue;
      }
      if (result !== undefined) receive(session, sent, result);
      return response;
    }
  };
}

// Session consistency for Apollo Client (4): a link that sends the session's token with every operation
// (HttpLink and GraphQLWsLink both send an operation's extensions), keeps each response's token, and puts
// the response's extensions in the operation's context, where links before it read them: Apollo's query
// results leave `extensions` out. A query or mutation the server answered retryable (see shouldRetry) is
// sent again a few times.
import { ApolloLink } from '@apollo/client';
import { getMainDefinition } from '@apollo/client/utilities';
import { defer, mergeMap, of, retry, tap, throwError, timer } from 'rxjs';
import { RETRY_DELAYS_MS, receive, shouldRetry, withSession, type Session } from './session.ts';

/** A result the server answered retryable, carried through rxjs's retry (the last one is delivered). */
class Retryable {
  constructor(readonly result: ApolloLink.Result) {}
}

declare module '@apollo/client' {
  interface DefaultContext {
    /** The extensions of the operation's latest response, put there by sessionLink. */
    responseExtensions?: Record<string, unknown> & { consistency?: { token?: string; stale?: boolean } };
  }
}

export function sessionLink(session: Session): ApolloLink {
  return new ApolloLink((operation, forward) => {
    const definition = getMainDefinition(operation.query);
    const once = definition.kind === 'OperationDefinition' && definition.operation !== 'subscription';
    let sent: string | undefined;
    let attempt = 0;
    // Each try sends the session's token as it is then (a newer one may have come meanwhile).
    const send = defer(() => {
      sent = session.token;
      const extensions = withSession(session, operation.extensions);
      if (extensions) operation.extensions = extensions;
      return forward(operation);
    });
    return send.pipe(
      mergeMap((result) =>
        once && attempt < RETRY_DELAYS_MS.length && shouldRetry(result, operation.variables)
          ? throwError(() => new Retryable(result))
          : of(result),
      ),
      retry({
        count: RETRY_DELAYS_MS.length,
        delay: (error) => (error instanceof Retryable ? timer(RETRY_DELAYS_MS[attempt++]!) : throwError(() => error)),
      }),
      tap((result) => {
        operation.setContext({ responseExtensions: result.extensions });
        receive(session, sent, result);
      }),
    );
  });
}

// Session consistency for urql (6): an exchange, placed before the fetch and subscription exchanges,
// that sends the session's token with every operation and keeps each result's token.
import { makeOperation, type Exchange } from '@urql/core';
import { map, pipe, tap } from 'wonka';
import { receive, withSession, type Session } from './session.ts';

export function sessionExchange(session: Session): Exchange {
  return ({ forward }) =>
    (operations$) =>
      pipe(
        operations$,
        map((operation) => {
          if (operation.kind === 'teardown') return operation;
          const extensions = withSession(session, operation.extensions as Record<string, unknown> | undefined);
          return makeOperation(operation.kind, { ...operation, extensions }, { ...operation.context, sessionToken: session.token });
        }),
        forward,
        // urql gathers a response's errors into result.error (a CombinedError).
        tap((result) =>
          receive(
            session,
            result.operation.context.sessionToken as string | undefined,
            { errors: result.error?.graphQLErrors, extensions: result.extensions },
            result,
          ),
        ),
      );
}

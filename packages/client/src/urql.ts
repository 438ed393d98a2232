// Session consistency for urql (6): an exchange, placed before the fetch and subscription exchanges,
// that sends the session's token with every operation, keeps each result's token, and sends a query or
// mutation again (a few times) when the server answered that the database was away and a repeat is safe.
import { makeOperation, type Exchange, type Operation } from '@urql/core';
import { filter, map, pipe, tap } from 'wonka';
import { RETRY_DELAYS_MS, receive, shouldRetry, withSession, type Session } from './session.ts';

const attemptOf = (operation: Operation) => (operation.context.sessionRetry as number | undefined) ?? 0;

export function sessionExchange(session: Session): Exchange {
  return ({ client, forward }) =>
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
        filter((result) => {
          const { operation } = result;
          const attempt = attemptOf(operation);
          const again =
            operation.kind !== 'subscription' &&
            attempt < RETRY_DELAYS_MS.length &&
            shouldRetry({ errors: result.error?.graphQLErrors.map((e) => ({ extensions: e.extensions })) }, operation.variables);
          if (again) {
            const next = makeOperation(operation.kind, operation, { ...operation.context, sessionRetry: attempt + 1 });
            setTimeout(() => client.reexecuteOperation(next), RETRY_DELAYS_MS[attempt]);
          }
          return !again;
        }),
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

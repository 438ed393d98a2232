// Session consistency for Apollo Client (4): a link that sends the session's token with every operation
// (HttpLink and GraphQLWsLink both send an operation's extensions), keeps each response's token, and puts
// the response's extensions in the operation's context, where links before it read them: Apollo's query
// results leave `extensions` out.
import { ApolloLink } from '@apollo/client';
import { tap } from 'rxjs';
import { receive, withSession, type Session } from './session.ts';

declare module '@apollo/client' {
  interface DefaultContext {
    /** The extensions of the operation's latest response, put there by sessionLink. */
    responseExtensions?: Record<string, unknown> & { consistency?: { token?: string; stale?: boolean } };
  }
}

export function sessionLink(session: Session): ApolloLink {
  return new ApolloLink((operation, forward) => {
    const sent = session.token;
    const extensions = withSession(session, operation.extensions);
    if (extensions) operation.extensions = extensions;
    return forward(operation).pipe(
      tap((result) => {
        operation.setContext({ responseExtensions: result.extensions });
        receive(session, sent, result);
      }),
    );
  });
}

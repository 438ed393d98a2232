// Session consistency for Apollo Client (4): a link that sends the session's token with every operation
// (HttpLink and GraphQLWsLink both send an operation's extensions) and keeps each response's token.
import { ApolloLink } from '@apollo/client';
import { tap } from 'rxjs';
import { receive, withSession, type Session } from './session.ts';

export function sessionLink(session: Session): ApolloLink {
  return new ApolloLink((operation, forward) => {
    const sent = session.token;
    const extensions = withSession(session, operation.extensions);
    if (extensions) operation.extensions = extensions;
    return forward(operation).pipe(tap((result) => receive(session, sent, result)));
  });
}

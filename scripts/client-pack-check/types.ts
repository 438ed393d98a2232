// The pack check's type check (scripts/client-pack-check.mjs): an application's TypeScript sees the
// package's declarations through its export map (`tsc --noEmit`, module nodenext, in the scratch project).
import { ApolloLink } from '@apollo/client';
import { createSession, type Session, type StaleResult } from '@converge/client';
import { sessionLink } from '@converge/client/apollo';
import { sessionExchange } from '@converge/client/urql';
import type { Exchange } from '@urql/core';

const session: Session = createSession('c1.1.1', { onStale: (result: StaleResult) => console.warn(result.extensions) });
const link: ApolloLink = ApolloLink.from([
  new ApolloLink((operation, forward) => {
    const extensions: Record<string, unknown> | undefined = operation.getContext().responseExtensions;
    console.log(extensions);
    return forward(operation);
  }),
  sessionLink(session),
]);
const exchange: Exchange = sessionExchange(createSession());
console.log(link, exchange);

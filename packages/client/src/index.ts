// `@converge/client`: session consistency for any GraphQL client. The Apollo link and the urql exchange
// are their own entry points (@converge/client/apollo, @converge/client/urql), so that neither library is
// needed for the other.
export { createSession, isAtOrAfter, shouldRetry, type Session, type SessionOptions, type StaleResult } from './session.ts';
export { sessionFetch } from './fetch.ts';

// What every resolver receives: the services, the caller, and the request's consistency outcome.
import type { Logger, Services } from '../app.ts';
import type { Caller } from '../core/caller.ts';

export type GraphQLContext = {
  services: Services;
  caller: Caller;
  requestId: string;
  /** The request's logger: every line carries the request id. */
  log: Logger;
  /** Counts an open subscription until the returned function is called. */
  subscriptionOpened(name: string): () => void;
  /** Set when a read-your-writes wait in this request timed out; becomes extensions.consistency. */
  consistency: { stale: boolean };
};

// What every resolver receives: the services, the caller, and the request's consistency outcome.
import type { Services } from '../app.ts';
import type { Caller } from '../core/caller.ts';

export type GraphQLContext = {
  services: Services;
  caller: Caller;
  requestId: string;
  /** Set when a read-your-writes wait in this request timed out; becomes extensions.consistency. */
  consistency: { stale: boolean };
};

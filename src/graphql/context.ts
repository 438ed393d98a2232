// What every resolver receives: the services, the caller, and the request's consistency outcome.
import type { Services } from '../app.ts';

export type Role = 'customer' | 'admin';

/** The authenticated caller; in open development mode every caller is an admin. */
export type Caller = { userId: string | null; roles: readonly Role[] };

export type GraphQLContext = {
  services: Services;
  caller: Caller;
  requestId: string;
  /** Set when a read-your-writes wait in this request timed out; becomes extensions.consistency. */
  consistency: { stale: boolean };
};

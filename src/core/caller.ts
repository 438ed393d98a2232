// Who is asking, and what they may do. Every command and query carries its caller, and the handlers
// decide with it, so that no entry point (a new GraphQL field, a CLI) can forget the check.
import { ForbiddenError } from './errors.ts';

export type Role = 'customer' | 'admin';

export type Caller = {
  /** The user id (`sub`); for a customer, the customer id. Null for the open-mode and system callers. */
  userId: string | null;
  roles: readonly Role[];
  /** When the caller's credentials expire (epoch ms), if they do. */
  expiresAt?: number;
};

/** For work the service does itself (benchmarks, maintenance): allowed everything. */
export const SYSTEM_CALLER: Caller = Object.freeze({ userId: null, roles: Object.freeze(['admin'] as Role[]) });

export const isAdmin = (caller: Caller) => caller.roles.includes('admin');

/** Admins see every customer's data; a customer only its own. */
export function assertCustomerAccess(caller: Caller, customerId: string, what = 'this data'): void {
  if (isAdmin(caller)) return;
  if (caller.roles.includes('customer') && caller.userId === customerId) return;
  throw new ForbiddenError(`You may not access ${what}`);
}

export function assertAdmin(caller: Caller, what: string): void {
  if (!isAdmin(caller)) throw new ForbiddenError(`Only an admin may ${what}`);
}

/** Resolves the caller of an `Authorization` header value; throws UNAUTHENTICATED. */
export type Authenticate = (authorization: string | null | undefined) => Promise<Caller>;

export type Authenticator = {
  /** Open development mode: no secret, every caller is an admin. */
  readonly open: boolean;
  authenticate: Authenticate;
};

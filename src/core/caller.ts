// Who is asking, and what they may do. Every command and query carries its caller, and the handlers
// decide with it, so that no entry point (a new GraphQL field, a CLI) can forget the check.
import { ForbiddenError } from './errors.ts';

export type Role = 'customer' | 'admin' | 'operator';

export type Caller = {
  /** The user id (`sub`); for a customer, the customer id. Null for the open-mode and system callers. */
  userId: string | null;
  roles: readonly Role[];
  /**
   * The tenant it acts in (see tenancy.ts); absent for an operator with no tenant, and for the system,
   * which acts in whichever tenant its work is for.
   */
  tenant?: string;
  /** The service itself (a process manager, an inbound message): never rate-limited. */
  system?: true;
  /** When the caller's credentials expire (epoch ms), if they do. */
  expiresAt?: number;
};

/** For work the service does itself (process managers, maintenance): allowed everything, in the tenant of its work. */
export const SYSTEM_CALLER: Caller = Object.freeze({ userId: null, roles: Object.freeze(['admin'] as Role[]), system: true });

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

/**
 * The projection operations affect every tenant: an operator's (or the service's). Where there is one
 * tenant (TENANCY=single), its admins may run them too.
 */
export function assertOperator(caller: Caller, what: string, tenancy: 'single' | 'multi'): void {
  if (caller.system || caller.roles.includes('operator') || (tenancy === 'single' && isAdmin(caller))) return;
  throw new ForbiddenError(`Only an operator${tenancy === 'single' ? ' or an admin' : ''} may ${what}`);
}

/**
 * Resolves the caller of an `Authorization` header value (and, in open development mode with many
 * tenants, of the `x-tenant` header); throws UNAUTHENTICATED.
 */
export type Authenticate = (authorization: string | null | undefined, tenant?: string | null) => Promise<Caller>;

export type Authenticator = {
  /** Open development mode: no secret, every caller is an admin (and operator). */
  readonly open: boolean;
  authenticate: Authenticate;
};

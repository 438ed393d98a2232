// Tenants: every event, command record and read-model row belongs to one. The tenant a piece of work acts
// for travels with it through async code (an AsyncLocalStorage), entered by the buses from the caller and
// by the projection storage per tenant's events, so that storage underneath scopes what it reads and
// writes to it without any domain code passing it on.
import { AsyncLocalStorage } from 'node:async_hooks';

/** The tenant of everything when TENANCY=single, and of everything stored before tenants existed. */
export const DEFAULT_TENANT = 'default';

/** 1 to 64 of a-z, 0-9 and -. */
export const TENANT_PATTERN = /^[a-z0-9-]{1,64}$/;

export type Tenancy = 'single' | 'multi';

// One per process, like the async context it rides on: it holds nothing but that context.
const scope = new AsyncLocalStorage<string>();

// On Node 20 the first AsyncLocalStorage entered turns on promise hooks for the whole process, about 15%
// more CPU per read (docs/decisions/tenants.md). Single tenancy needs no scope: tenantOrDefault() answers
// the default tenant outside any. So the default tenant is entered only once a service runs TENANCY=multi.
let scoping = false;

/** From now on every tenant's work, the default one's too, is entered (a service with TENANCY=multi). */
export const scopeEveryTenant = () => {
  scoping = true;
};

/** Runs `work` acting for `tenant` (and everything it starts, awaited or not). */
export const inTenant = <T>(tenant: string, work: () => T): T =>
  !scoping && tenant === DEFAULT_TENANT && scope.getStore() === undefined ? work() : scope.run(tenant, work);

/** The tenant the current work acts for; undefined outside any (a projection reading every tenant's events). */
export const currentTenant = (): string | undefined => scope.getStore();

/** The tenant the current work acts for, or the default one (single tenancy, or work before tenants). */
export const tenantOrDefault = (): string => scope.getStore() ?? DEFAULT_TENANT;

/** Runs `work` for no tenant in particular: reads of the whole log (its head, what an advance covered). */
export const acrossTenants = <T>(work: () => T): T => (scope.getStore() === undefined ? work() : scope.exit(work));

/** A key of a tenant's row or stream, as one string: stream ids and other keys repeat across tenants. */
export const tenantKey = (tenant: string, key: string) => `${tenant}\u0000${key}`;

/** The tenant and the key of a tenantKey. */
export const splitKey = (qualified: string): [string, string] => {
  const at = qualified.indexOf('\u0000');
  return [qualified.slice(0, at), qualified.slice(at + 1)];
};

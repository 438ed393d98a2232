// The buses enter the caller's tenant before anything runs (see tenancy.ts): every read and write below
// acts for it. The service's own callers (process managers, inbound messages) keep the tenant their work
// is already in. With many tenants, a caller of no tenant (an operator's token) acts on no tenant's data.
import type { Caller } from './caller.ts';
import type { CommandMiddleware } from './command-bus.ts';
import { ForbiddenError } from './errors.ts';
import type { Command } from './messages.ts';
import type { QueryMiddleware } from './query-bus.ts';
import type { QueryContext } from './query-context.ts';
import { inTenant, type Tenancy } from './tenancy.ts';

/** Runs `work` in the caller's tenant (see above). */
export function inCallersTenant<T>(caller: Caller, tenancy: Tenancy, what: string, work: () => Promise<T>): Promise<T> {
  if (caller.tenant !== undefined) return inTenant(caller.tenant, work);
  if (caller.system || tenancy === 'single') return work();
  return Promise.reject(new ForbiddenError(`A caller of no tenant (an operator's token) may not ${what}: use a token with a tenant claim`));
}

export function tenantCommands<C extends Command, R>(tenancy: Tenancy): CommandMiddleware<C, R> {
  return (command, next) => inCallersTenant(command.metadata.caller, tenancy, `send ${command.type}`, () => next(command));
}

export function tenantQueries(tenancy: Tenancy): QueryMiddleware<QueryContext> {
  return ({ name, context }, next) => inCallersTenant(context.caller, tenancy, `read ${name}`, next);
}

// The DomainModule contract: a domain as the composition root registers it. Its aggregates (deciders with
// their commands' input schemas and the one stream-id rule), its events' schema versions, its
// projections and process managers, and its queries with the projections each one reads. Nothing
// outside src/modules.ts names a domain.
import type { CommandBus } from './command-bus.ts';
import { createDeciderHandler, type CommandHandlerDeps, type CommandResult, type DeciderHandlerSpec } from './command-handler.ts';
import type { CommandInputs } from './command-input.ts';
import type { EventSchemas, EventStore } from './event-store.ts';
import type { InboundMessages } from './inbound.ts';
import type { Command, Event } from './messages.ts';
import type { QueryContext } from './query-context.ts';
import type { ProcessManager } from './process-manager.ts';
import type { PublicEvents } from './public-events.ts';
import type { Executor } from './sql.ts';
import type { SqlProjection } from './sql-projection.ts';

export type Aggregate<C extends Command = Command, E extends Event = Event, S = unknown> = DeciderHandlerSpec<C, E, S> & {
  /** Each command type's client input schema (see parseCommand). */
  inputs: CommandInputs<C>;
};

/** Registers the aggregate's handler for each of its command types. */
export function registerAggregate(
  bus: CommandBus<Command, CommandResult>,
  aggregate: Aggregate<any, any, any>,
  deps: CommandHandlerDeps,
): void {
  const handle = createDeciderHandler(aggregate, deps);
  for (const type of Object.keys(aggregate.inputs)) bus.register(type, handle);
}

/** What a query handler may read: the read models through SQL, and the event store. */
export type QueryDeps = { db: Executor; store: EventStore };

export type QueryDefinition<P = any, R = any> = {
  /** The projections whose read models it reads: `after:` waits for these (none: it reads the events). */
  projections: readonly string[];
  create(deps: QueryDeps): (params: P, context: QueryContext) => Promise<R>;
};

/** Parameters and result of each query, for typed calls through the query bus. */
export type QueryTypes<Q extends Record<string, QueryDefinition>> = {
  [K in keyof Q]: Q[K] extends QueryDefinition<infer P, infer R> ? { params: P; result: R } : never;
};

export type DomainModule<Q extends Record<string, QueryDefinition> = Record<string, QueryDefinition>> = {
  name: string;
  events: EventSchemas;
  aggregates: readonly Aggregate<any, any, any>[];
  projections: readonly SqlProjection[];
  processManagers?: readonly ProcessManager[];
  queries: Readonly<Q>;
  /** The events other services may see, with their public shapes (published where NATS_URL is set). */
  publicEvents?: PublicEvents;
  /** What it consumes from other services (where NATS_URL is set): each subject's messages become commands. */
  inbound?: readonly InboundMessages[];
};

/** A module, its queries' types kept (QueryTypes<typeof module.queries> types calls through the query bus). */
export const defineModule = <Q extends Record<string, QueryDefinition>>(module: DomainModule<Q>): DomainModule<Q> => module;

/**
 * Refuses modules that declare the same projection (or process manager), event type, command type or
 * query: the service would otherwise run one of them silently. The message names both modules.
 */
export function assertDistinctModules(modules: readonly DomainModule[]): void {
  const owners = new Map<string, string>();
  const claim = (what: string, name: string, module: string) => {
    const key = `${what} ${name}`;
    const owner = owners.get(key);
    if (owner !== undefined) throw new ModuleConflictError(`${what} ${name} is declared by module ${owner} and by module ${module}`);
    owners.set(key, module);
  };
  const names = new Set<string>();
  for (const module of modules) {
    if (names.has(module.name)) throw new ModuleConflictError(`two modules are named ${module.name}`);
    names.add(module.name);
    for (const name of [...module.projections, ...(module.processManagers ?? [])].map((p) => p.name))
      claim('projection', name, module.name);
    for (const type of Object.keys(module.events)) claim('event type', type, module.name);
    for (const type of module.aggregates.flatMap((aggregate) => Object.keys(aggregate.inputs))) claim('command', type, module.name);
    for (const name of Object.keys(module.queries)) claim('query', name, module.name);
    for (const { subject } of module.inbound ?? []) claim('inbound subject', subject, module.name);
  }
}

/** Two modules declare the same name: a start-up error in one line. */
export class ModuleConflictError extends Error {}

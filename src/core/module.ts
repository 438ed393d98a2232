// The DomainModule contract: a domain as the composition root registers it. Its aggregates (deciders with
// their commands' input schemas and the one stream-id rule), its events' schema versions, its
// projections and process managers, and its queries with the projections each one reads. Nothing
// outside src/modules.ts names a domain.
import type { CommandBus } from './command-bus.ts';
import { createDeciderHandler, type CommandHandlerDeps, type CommandResult, type DeciderHandlerSpec } from './command-handler.ts';
import type { CommandInputs } from './command-input.ts';
import type { EventSchemas, EventStore } from './event-store.ts';
import type { Command, Event } from './messages.ts';
import type { QueryContext } from './query-context.ts';
import type { ProcessManager } from './process-manager.ts';
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

export type DomainModule = {
  name: string;
  events: EventSchemas;
  aggregates: readonly Aggregate<any, any, any>[];
  projections: readonly SqlProjection<any>[];
  processManagers?: readonly ProcessManager<any>[];
  queries: Readonly<Record<string, QueryDefinition>>;
};

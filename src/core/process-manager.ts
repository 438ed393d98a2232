// Process managers: projections whose effects are commands. One follows the global order like a
// projection (checkpoint, leadership, wake-up, FAILED, pause and resume) and, for the events it handles,
// sends commands through the command bus; its own state lives in tables it writes with its checkpoint.
// Each command's commandId derives from the event that caused it, so that a replay after a crash
// (between a command and the checkpoint) gets the first result and appends nothing.
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { CommandResult } from './command-handler.ts';
import type { EventStore } from './event-store.ts';
import { INTERNAL_COMMAND_ID_PREFIX } from './input-fields.ts';
import type { Command, Event, StoredEvent } from './messages.ts';
import { encodeToken } from './position.ts';
import { tenantKey, tenantOrDefault } from './tenancy.ts';
import { noTracing, type Tracing } from './tracing.ts';
import {
  compileTables,
  type HandledEvent,
  type Lookup,
  type ProcessorDefinition,
  type ProjectionStep,
  type SqlProjection,
  type StepContext,
  typedStep,
} from './sql-projection.ts';
import { primaryKeyOf, type ReadModelTable, type RowOf, selectList, tableName } from './tables.ts';

/** What a process manager may do besides a projection's step: send commands, and read streams. */
export type ProcessEffects = {
  /** Sends a command (with a derived commandId) through the command bus; rejects as the command does. */
  send(command: Command): Promise<CommandResult>;
  /**
   * Where a stream began, and its type (null: no such stream). A decision that compares it with the
   * event's position is the same on every replay: what was there before an event never changes.
   */
  streamStart: EventStore['streamStart'];
  /**
   * Reads the starts of `streamIds` in one statement, so that the step's streamStart calls for them
   * need none: a batch names its streams up front instead of paying a round trip for each.
   */
  prefetchStreamStarts(streamIds: readonly string[]): Promise<void>;
  /** A stream's events, for a decision that must rebuild what it knows of one from the log (see process.ts). */
  readStream: EventStore['readStream'];
};

export type ProcessStep<L extends Record<string, Lookup<any, any>>, T extends ReadModelTable> = ProjectionStep<L, T> &
  ProcessEffects & {
    /**
     * Rows of its own tables by primary key, as its last checkpoint left them (only it writes them): for
     * state a batch's lookups cannot name, such as the orders waiting for a product.
     */
    read<X extends T>(table: X, keys: readonly string[]): Promise<ReadonlyMap<string, RowOf<X>>>;
  };

/** Its `tables` hold its state, written with its checkpoint and never rebuilt. */
export type ProcessManagerDefinition<
  E extends Event,
  H extends E['type'],
  T extends ReadModelTable,
  L extends Record<string, Lookup<any, any>>,
> = ProcessorDefinition<H, T, L> & {
  /**
   * The event types its commands may append. A projection that handles any of them follows this
   * process manager: a read-your-writes wait on it waits for the process first (causal consistency).
   */
  effects: readonly string[];
  handle(events: HandledEvent<E, H>[], step: ProcessStep<L, T>): Promise<void>;
};

/** A process manager as the services run it (see runAsProjection). */
export type ProcessManager = Pick<SqlProjection, 'name' | 'handles' | 'tables' | 'lookups'> & {
  effects: readonly string[];
  handle(events: StoredEvent[], step: StepContext & ProcessEffects): Promise<void>;
};

/** A process manager of the events `E` (`defineProcessManager<OrderEvent>()({ … })`), whose `handle` gets the handled types. */
export const defineProcessManager =
  <E extends Event>() =>
  <const H extends E['type'], T extends ReadModelTable, L extends Record<string, Lookup<T, E>> = Record<never, never>>(
    definition: ProcessManagerDefinition<E, H, T, L>,
  ): ProcessManager => ({
    ...compileTables(definition),
    effects: definition.effects,
    handle: (events, step) =>
      definition.handle(events as HandledEvent<E, H>[], {
        ...typedStep<L, T>(step),
        send: step.send,
        streamStart: step.streamStart,
        prefetchStreamStarts: step.prefetchStreamStarts,
        readStream: step.readStream,
        read: async (table, keys) =>
          step.read(tableName(table), primaryKeyOf(table)[0]!, selectList(table), keys) as Promise<
            ReadonlyMap<string, RowOf<typeof table>>
          >,
      }),
  });

/**
 * The process manager as the projection runner runs it: its commands go to `dispatch`, and how far the
 * events they appended reached goes with the checkpoint (StepContext.caused). Each command is sent in a
 * span that continues the trace of the event that caused it (its causationId names the event), linked
 * to the step's span.
 */
export function runAsProjection(
  pm: ProcessManager,
  dispatch: (command: Command) => Promise<CommandResult>,
  store: Pick<EventStore, 'streamStart' | 'streamStarts' | 'readStream'>,
  tracing: Tracing = noTracing,
): SqlProjection {
  // A stream's start never changes once it exists: only those are kept (one that does not exist yet may).
  const starts = new LRUCache<string, NonNullable<Awaited<ReturnType<EventStore['streamStart']>>>>({ max: 10_000 });
  // Stream ids repeat across tenants: the tenant of the events being handled is part of the key.
  const keyOf = (streamId: string) => tenantKey(tenantOrDefault(), streamId);
  const stepStarts = (): Pick<ProcessEffects, 'streamStart' | 'prefetchStreamStarts'> => {
    // Streams read as absent during this step. One created later begins above the horizon this step's
    // batch was read under, so after every event of the step: absent holds for the whole step.
    const absent = new Set<string>();
    return {
      async streamStart(streamId) {
        const key = keyOf(streamId);
        const known = starts.get(key);
        if (known || absent.has(key)) return known ?? null;
        const start = await store.streamStart(streamId);
        if (start) starts.set(key, start);
        else absent.add(key);
        return start;
      },
      async prefetchStreamStarts(streamIds) {
        const unknown = [...new Set(streamIds)].filter((id) => !starts.has(keyOf(id)) && !absent.has(keyOf(id)));
        if (unknown.length === 0) return;
        const found = await store.streamStarts(unknown);
        for (const id of unknown) {
          const start = found.get(id);
          if (start) starts.set(keyOf(id), start);
          else absent.add(keyOf(id));
        }
      },
    };
  };
  return {
    name: pm.name,
    kind: 'PROCESS_MANAGER',
    handles: pm.handles,
    tables: pm.tables,
    lookups: pm.lookups,
    apply(events, step) {
      const send = tracing.enabled ? tracedSend(pm.name, events, dispatch, tracing) : dispatch;
      return pm.handle(events, {
        ...step,
        async send(command) {
          const result = await send(command);
          step.caused(result.position);
          return result;
        },
        ...stepStarts(),
        readStream: (streamId) => store.readStream(streamId),
      });
    },
  };
}

/** Sends each command in a span, the child of its causing event's trace (else of the step's span). */
function tracedSend(
  name: string,
  events: readonly StoredEvent[],
  dispatch: (command: Command) => Promise<CommandResult>,
  tracing: Tracing,
) {
  const causes = new Map(events.map((e) => [encodeToken(e.position), e.metadata.traceparent]));
  const step = tracing.current();
  return (command: Command) => {
    const cause = command.metadata.causationId;
    const parent = cause === undefined ? undefined : causes.get(cause);
    const attributes = { 'converge.process': name, 'converge.command.type': command.type, 'converge.causation': cause };
    const options = { kind: 'producer' as const, parent, links: parent && step ? [step] : undefined, attributes };
    return tracing.span(`${name} sends ${command.type}`, options, () => dispatch(command));
  };
}

/** The commandId of what `processManager` does about `event`, for `purpose` (the same on every replay). */
export function causedCommandId(processManager: string, event: StoredEvent, purpose: string): string {
  const digest = createHash('sha256')
    .update(`${encodeToken(event.position)} ${purpose}`)
    .digest('base64url');
  return `${INTERNAL_COMMAND_ID_PREFIX}${processManager}:${digest.slice(0, 32)}`;
}

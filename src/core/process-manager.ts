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
import type { Command, StoredEvent } from './messages.ts';
import { encodeToken } from './position.ts';
import type { Lookups, SqlProjection, StepContext } from './sql-projection.ts';

export type ProcessStep<L extends Lookups = Lookups> = StepContext<L> & {
  /** Sends a command (with a derived commandId) through the command bus; rejects as the command does. */
  send(command: Command): Promise<CommandResult>;
  /**
   * Where a stream began, and its type (null: no such stream). A decision that compares it with the
   * event's position is the same on every replay: what was there before an event never changes.
   */
  streamStart: EventStore['streamStart'];
};

export type ProcessManager<L extends Lookups = Lookups> = {
  name: string;
  handles: ReadonlySet<string>;
  /**
   * The event types its commands may append. A projection that handles any of them follows this
   * process manager: a read-your-writes wait on it waits for the process first (causal consistency).
   */
  effects: readonly string[];
  /** Its state's tables (written with its checkpoint, never rebuilt). */
  tables: readonly string[];
  lookups?: L;
  handle(events: StoredEvent[], step: ProcessStep<L>): Promise<void>;
};

export const defineProcessManager = <L extends Lookups>(pm: ProcessManager<L>): ProcessManager<L> => pm;

/**
 * The process manager as the projection runner runs it: its commands go to `dispatch`, and how far the
 * events they appended reached goes with the checkpoint (StepContext.caused).
 */
export function runAsProjection<L extends Lookups>(
  pm: ProcessManager<L>,
  dispatch: (command: Command) => Promise<CommandResult>,
  store: Pick<EventStore, 'streamStart'>,
): SqlProjection<L> {
  // A stream's start never changes once it exists: only those are kept (one that does not exist yet may).
  const starts = new LRUCache<string, NonNullable<Awaited<ReturnType<EventStore['streamStart']>>>>({ max: 10_000 });
  const streamStart: EventStore['streamStart'] = async (streamId) => {
    const known = starts.get(streamId);
    if (known) return known;
    const start = await store.streamStart(streamId);
    if (start) starts.set(streamId, start);
    return start;
  };
  return {
    name: pm.name,
    kind: 'PROCESS_MANAGER',
    handles: pm.handles,
    tables: pm.tables,
    lookups: pm.lookups,
    apply: (events, step) =>
      pm.handle(events, {
        ...step,
        async send(command) {
          const result = await dispatch(command);
          step.caused(result.position);
          return result;
        },
        streamStart,
      }),
  };
}

/** The commandId of what `processManager` does about `event`, for `purpose` (the same on every replay). */
export function causedCommandId(processManager: string, event: StoredEvent, purpose: string): string {
  const digest = createHash('sha256')
    .update(`${encodeToken(event.position)} ${purpose}`)
    .digest('base64url');
  return `${INTERNAL_COMMAND_ID_PREFIX}${processManager}:${digest.slice(0, 32)}`;
}

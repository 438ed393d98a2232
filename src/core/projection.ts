// Projections: asynchronous folds of the global event order into read models; the storage port the
// runner needs and the admin port of the operations (both implemented in infra/projections).
import type { Caller } from './caller.ts';
import type { StoredEvent } from './messages.ts';
import type { Position } from './position.ts';

export type ProcessorKind = 'PROJECTION' | 'PROCESS_MANAGER' | 'PUBLISHER';

export type Projection<Tx = unknown> = {
  name: string;
  /**
   * PROCESS_MANAGER: its effects are commands (see process-manager.ts); PUBLISHER: messages to a broker
   * (see publisher.ts). Neither is ever rebuilt.
   */
  kind?: ProcessorKind;
  /** Event types it applies; the checkpoint moves over all others. */
  handles: ReadonlySet<string>;
  /** Read-model tables it alone writes; a blue/green rebuild fills copies of these. */
  tables: readonly string[];
  /**
   * Applies a batch (only handled events, in global order). Its effects must go through `tx` so that
   * they land together with the checkpoint's move, or not at all.
   */
  apply(events: StoredEvent[], tx: Tx): void | Promise<void>;
};

export type ProjectionState = 'RUNNING' | 'PAUSED' | 'REBUILDING' | 'FAILED';

/** A step failed on its events before the projection got them (what it reads for them could not be read). */
export class EventsNotApplied extends Error {
  constructor(
    readonly events: readonly StoredEvent[],
    cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
  }
}

export type ProjectionRecord = {
  name: string;
  state: ProjectionState;
  /** Last event applied (or passed over); null before the first. */
  position: Position | null;
  lastError: string | null;
  errorPosition: Position | null;
  /** The shadow copy's position while REBUILDING. */
  rebuildPosition: Position | null;
  /** A process manager's: how far the events its commands appended reached, up to its checkpoint. */
  effects: Position | null;
  updatedAt: string | null;
};

/** An append still in flight after a second: every projection waits for it (docs/decisions/event-horizon.md). */
export type HeldBackBy = { backendPid: number; seconds: number; waitingOn: string | null };

/**
 * lagEvents: visible events not processed yet; lagSeconds: the age of the oldest of them (0 when none);
 * rebuildLagEvents: while REBUILDING, the visible events its shadow copy has still to process (null otherwise).
 */
export type ProjectionStatus = ProjectionRecord & {
  kind: ProcessorKind;
  lagEvents: number;
  lagSeconds: number;
  rebuildLagEvents: number | null;
  heldBackBy?: HeldBackBy;
};

/**
 * The event log's head at `sampledAt` (the database's clock): its last visible event and when it was
 * appended, and how many events were appended so far (the log's sequence: an append that rolled back
 * counts too), which successive samples turn into a rate.
 */
export type LogHead = { position: Position | null; appendedAt: string | null; appendedEvents: number; sampledAt: string };

export type StepTarget = 'live' | 'shadow';

export type StepResult =
  /**
   * `to` is null when no event was read. `pending`: committed events exist beyond what was read but
   * are not visible yet (an older transaction is still open), so reading again soon will find them.
   * `effects`: the furthest event the step's commands appended (process managers, see StepContext.caused).
   */
  | { kind: 'applied'; read: number; to: Position | null; pending?: boolean; effects?: Position | null }
  /** The stored checkpoint or state is not what the runner thought: re-load and start over. */
  | { kind: 'stale' };

/** What the runner needs from the database. Each method's changes commit together or not at all. */
export type ProjectionStorage<Tx> = {
  load(name: string): Promise<ProjectionRecord>;
  /**
   * Reads up to `limit` events after `from` (the visible ones, in global order), passes them to
   * `apply` and moves `target`'s checkpoint from `from` to the last one read, together with what
   * `apply` wrote (compare-and-set: `stale`, and nothing written, when the checkpoint moved on).
   */
  step(
    name: string,
    target: StepTarget,
    from: Position | null,
    limit: number,
    apply: (events: StoredEvent[], tx: Tx) => Promise<void>,
    /** The step's trace once `apply` ran (tracing on): its progress notification names it, for the waits it ends elsewhere. */
    trace?: () => string | undefined,
  ): Promise<StepResult>;
  /** Records a failure at `at` and moves to FAILED, unless the checkpoint moved on meanwhile. */
  fail(name: string, error: string, at: Position): Promise<void>;
  /**
   * Moves a projection that is RUNNING and has applied nothing yet to REBUILDING, so that it builds its
   * read model as a shadow copy (see prepareShadow); false when it is not in that state any more.
   */
  beginRebuild(name: string): Promise<boolean>;
  /**
   * Empties (re)creates the shadow copies of `tables` and sets the rebuild position to the start. The
   * copies may leave out what only speeds up reads (secondary indexes), to be added by completeShadow.
   */
  prepareShadow(name: string, tables: readonly string[]): Promise<void>;
  /**
   * Gives the caught-up shadow copies what prepareShadow left out, and takes away what the live tables
   * no longer have (a migration during the rebuild); false when it changed nothing.
   */
  completeShadow(name: string, tables: readonly string[]): Promise<boolean>;
  /**
   * In one transaction: applies what the shadow still lacks (through `apply`), then swaps the shadow
   * tables in for the live ones and makes the shadow position the live one.
   */
  swap(
    name: string,
    tables: readonly string[],
    from: Position | null,
    apply: (events: StoredEvent[], tx: Tx) => Promise<void>,
  ): Promise<StepResult>;
  /** Whether at least `count` events are visible now (counting no further than that). */
  hasEvents(count: number): Promise<boolean>;
};

/** Status and the operator's operations; any process may call them. Only an operator (or, with one tenant, an admin) may see or change projections. */
export type ProjectionAdmin = {
  /** FORBIDDEN unless the caller may see and steer the projections: the one check every operation here makes. */
  assertOperator(caller: Caller, what: string): void;
  /** FORBIDDEN unless the caller may follow projectionProgress (anyone, but an operator only with TENANCY=multi). */
  assertFollowsProgress(caller: Caller): void;
  status(caller: Caller): Promise<ProjectionStatus[]>;
  head(caller: Caller): Promise<LogHead>;
  pause(name: string, caller: Caller): Promise<ProjectionStatus>;
  resume(name: string, caller: Caller): Promise<ProjectionStatus>;
  rebuild(name: string, caller: Caller): Promise<ProjectionStatus>;
  /** Creates the missing rows (at start-up). */
  ensure(): Promise<void>;
};

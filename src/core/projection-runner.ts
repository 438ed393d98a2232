// Runs one projection: batches after the checkpoint, applied with the checkpoint in one transaction;
// wakes on new events, polls slowly in case a wake-up was lost; a failing event stops only this
// projection (FAILED, with the error and its position); a rebuild fills shadow tables beside the live
// ones and swaps them in when caught up, and so does a first build over a long log. The caller makes
// sure one runner per projection runs at a time across processes (the storage's compare-and-set on
// the checkpoint keeps even two runners exact).
import type { ConsistencyTracker } from './consistency-tracker.ts';
import { ConcurrencyConflictError, UnavailableError } from './errors.ts';
import { errorText, silentLogger, type Logger } from './logger.ts';
import type { StoredEvent } from './messages.ts';
import { encodeToken, START, type Position } from './position.ts';
import {
  EventsNotApplied,
  type Projection,
  type ProjectionRecord,
  type ProjectionStorage,
  type StepResult,
  type StepTarget,
} from './projection.ts';

export type ProjectionRunnerDeps<Tx> = {
  projection: Projection<Tx>;
  storage: ProjectionStorage<Tx>;
  tracker?: ConsistencyTracker;
  batchSize?: number;
  /** The largest a batch grows to while catching up (default 10,000). */
  maxBatchSize?: number;
  /**
   * A projection that has applied nothing yet and finds at least this many events (default 20,000)
   * builds its read model as a rebuild does, in shadow copies that get their read indexes once at
   * the end, instead of batch by batch in the live tables. Its read model stays empty until the swap,
   * as its checkpoint says.
   */
  firstBuildAsRebuildFrom?: number;
  /** The slow fallback poll: a lost notification delays progress by at most this. */
  pollMs?: number;
  log?: Logger;
};

export type ProjectionRunner = {
  readonly name: string;
  start(): void;
  /** Finishes the step in progress, then stops. */
  stop(): Promise<void>;
  /** New events may be there. */
  wake(): void;
  /** The projection's state may have been changed by an admin: re-read it. */
  reload(): void;
};

const NOTHING_READ: StepResult = { kind: 'applied', read: 0, to: null };

export function createProjectionRunner<Tx>(deps: ProjectionRunnerDeps<Tx>): ProjectionRunner {
  const { projection, storage, tracker } = deps;
  const { name } = projection;
  // A process manager's batch is a run of commands before one checkpoint: kept small, so that its
  // effects show soon and a replay after a crash is short.
  const processManager = projection.kind === 'PROCESS_MANAGER';
  const batchSize = processManager ? Math.min(deps.batchSize ?? 100, 100) : (deps.batchSize ?? 500);
  // Catching up, batches grow (each full one doubles the next) up to this: fewer, larger upserts write
  // each read-model row fewer times. Live traffic brings small batches and resets the size.
  const maxBatchSize = processManager ? batchSize : Math.max(batchSize, deps.maxBatchSize ?? 10_000);
  let currentBatch = batchSize;
  // A process manager's effects are commands: it never builds through shadow tables.
  const firstBuildAsRebuildFrom = processManager ? Infinity : (deps.firstBuildAsRebuildFrom ?? 20_000);
  const pollMs = deps.pollMs ?? 2000;
  const log = deps.log ?? silentLogger;
  // The database is away, or (a process manager's command) other writers kept winning a stream: not this
  // event's fault, so the step is tried again rather than failed.
  const isTransient = (error: unknown) => error instanceof UnavailableError || error instanceof ConcurrencyConflictError;

  let stopping = false;
  let restart = false;
  let loop: Promise<void> | undefined;
  let pending = true; // a wake-up that arrived while busy is not lost
  let mustReload = true;
  let firstLoad = true;
  let wakeUp: (() => void) | undefined;

  const idle = (ms: number) =>
    new Promise<void>((resolve) => {
      if (pending || stopping) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wakeUp = undefined;
        resolve();
      }
      wakeUp = done;
    });

  // Unhandled events are read (so the checkpoint passes them) but never reach apply.
  const applyHandled = async (events: StoredEvent[], tx: Tx) => {
    const handled = events.filter((e) => projection.handles.has(e.type));
    if (handled.length > 0) await projection.apply(handled, tx);
  };

  /** Runs a step; on an event that cannot be applied, finds it (one event at a time) and fails there. */
  async function step(target: StepTarget, from: Position | null): Promise<StepResult | 'failed'> {
    try {
      return await storage.step(name, target, from, currentBatch, applyHandled);
    } catch (error) {
      if (isTransient(error)) throw error;
    }
    // Through the failed batch one event at a time: the culprit fails alone, the others commit.
    let at = from;
    const failedBatch = currentBatch;
    for (let n = 0; n < failedBatch; n++) {
      let current: StoredEvent | undefined;
      try {
        const result = await storage.step(name, target, at, 1, (events, tx) => {
          current = events[0];
          return applyHandled(events, tx);
        });
        if (result.kind === 'stale') return result;
        if (result.to === null) return { kind: 'applied', read: 0, to: at }; // the failure did not repeat
        at = result.to;
        if (target === 'live') tracker?.advance(name, at, result.effects);
      } catch (error) {
        if (isTransient(error)) throw error;
        const message = errorText(error);
        if (error instanceof EventsNotApplied) current ??= error.events[0];
        if (!current) {
          // It failed before reaching the projection (reading or upcasting the event): stop here too,
          // visibly, rather than retry forever.
          log.error({ projection: name, target, error: message }, 'projection failed reading an event');
          await storage.fail(name, `reading the event after the checkpoint: ${message}`, at ?? START);
          return 'failed';
        }
        log.error(
          { projection: name, target, position: encodeToken(current.position), type: current.type, error: message },
          'projection failed on an event',
        );
        await storage.fail(name, `${current.type} at ${current.streamId}@${current.version}: ${message}`, current.position);
        return 'failed';
      }
    }
    return { kind: 'applied', read: failedBatch, to: at };
  }

  async function run() {
    let record: ProjectionRecord | undefined;
    let backoff = 100;
    let hiddenDelayMs = 2;
    while (!stopping) {
      try {
        if (mustReload || !record) {
          mustReload = false;
          record = await storage.load(name);
          if (record.position) tracker?.advance(name, record.position, record.effects);
          // Once per start (again if the database was away), when nothing has been applied yet.
          const neverApplied = record.state === 'RUNNING' && record.position === null;
          if (firstLoad && neverApplied && (await firstBuildAsRebuild())) continue;
          firstLoad = false;
        }
        pending = false;
        if (record.state === 'PAUSED' || record.state === 'FAILED') {
          await idle(pollMs);
          mustReload = true;
          continue;
        }
        let busy = false;
        let hidden = false;
        // A rebuild of a projection that has applied nothing (a first build) leaves the live copy alone:
        // stepping it too would do the same work twice, and the swap brings it up to date.
        const live = record.state === 'REBUILDING' && record.position === null ? NOTHING_READ : await step('live', record.position);
        if (live === 'failed' || live.kind === 'stale') {
          mustReload = true;
          continue;
        }
        if (live.to) {
          record.position = live.to;
          tracker?.advance(name, live.to, live.effects);
          busy = live.read >= currentBatch;
        }
        hidden = live.pending === true;
        if (record.state === 'REBUILDING') busy = (await rebuildStep(record)) || busy;
        currentBatch = busy ? Math.min(currentBatch * 2, maxBatchSize) : batchSize;
        backoff = 100;
        // Let timers and I/O in between batches: an embedded database answers without ever leaving
        // the microtask queue, so a long catch-up would otherwise starve the rest of the process.
        await new Promise((resolve) => setImmediate(resolve));
        if (!busy) {
          // Events held back by an open older transaction become visible when it ends, and no
          // notification says so: look again soon rather than at the slow poll.
          const waitMs = hidden ? Math.min(hiddenDelayMs, pollMs) : pollMs;
          hiddenDelayMs = hidden ? Math.min(hiddenDelayMs * 2, 100) : 2;
          await idle(waitMs);
          // The poll doubles as a check for state changes whose notification was lost.
          if (!pending) mustReload = true;
        }
      } catch (error) {
        // The database is away (or something unforeseen): wait, then start over from the stored checkpoint.
        log.error({ projection: name, error: errorText(error) }, 'projection step failed; retrying');
        mustReload = true;
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 5000);
      }
    }
  }

  /** Starts a first build over a long log as a rebuild (see firstBuildAsRebuildFrom); true when it did. */
  async function firstBuildAsRebuild(): Promise<boolean> {
    if (!Number.isFinite(firstBuildAsRebuildFrom)) return false;
    if (!(await storage.hasEvents(firstBuildAsRebuildFrom)) || !(await storage.beginRebuild(name))) return false;
    log.info({ projection: name, atLeast: firstBuildAsRebuildFrom }, 'projection building from scratch as a rebuild');
    mustReload = true;
    return true;
  }

  /** One rebuild step; true when there is more to do right away. */
  async function rebuildStep(record: ProjectionRecord): Promise<boolean> {
    if (record.rebuildPosition === null) {
      log.info({ projection: name }, 'projection rebuild starting');
      await storage.prepareShadow(name, projection.tables);
      mustReload = true;
      return true;
    }
    const asked = currentBatch;
    const shadow = await step('shadow', record.rebuildPosition);
    if (shadow === 'failed' || shadow.kind === 'stale') {
      mustReload = true;
      return false;
    }
    if (shadow.to) record.rebuildPosition = shadow.to;
    if (shadow.read >= asked) return true;
    // Caught up: give the copy the indexes it was filled without (then catch up with what arrived
    // meanwhile), and finish what is left and swap, in one transaction.
    if (await storage.completeShadow(name, projection.tables)) return true;
    const swapped = await storage.swap(name, projection.tables, record.rebuildPosition, applyHandled);
    mustReload = true;
    if (swapped.kind === 'applied' && swapped.to) {
      tracker?.advance(name, swapped.to);
      log.info({ projection: name }, 'projection rebuild swapped in');
    }
    return true;
  }

  function start() {
    // Still stopping (its lock was lost, and has just been taken again): run again once that loop ends.
    if (loop) {
      restart = stopping;
      return;
    }
    stopping = false;
    mustReload = true;
    loop = run().finally(() => {
      loop = undefined;
      if (restart) {
        restart = false;
        start();
      }
    });
  }

  return {
    name,
    start,
    async stop() {
      stopping = true;
      restart = false;
      wakeUp?.();
      await loop;
    },
    wake() {
      pending = true;
      wakeUp?.();
    },
    reload() {
      mustReload = true;
      pending = true;
      wakeUp?.();
    },
  };
}

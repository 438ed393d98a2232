// Runs one projection: batches after the checkpoint, applied with the checkpoint in one transaction;
// wakes on new events, polls slowly in case a wake-up was lost; a failing event stops only this
// projection (FAILED, with the error and its position); a rebuild fills shadow tables beside the live
// ones and swaps them in when caught up, and so does a first build over a long log. The caller makes
// sure one runner per projection runs at a time across processes (the storage's compare-and-set on
// the checkpoint keeps even two runners exact).
import { BatchSize } from './batch-size.ts';
import type { ConsistencyTracker } from './consistency-tracker.ts';
import { ConcurrencyConflictError, UnavailableError } from './errors.ts';
import { bisectFailure } from './failure-bisection.ts';
import { errorText, silentLogger, type Logger } from './logger.ts';
import type { StoredEvent } from './messages.ts';
import type { Projection, ProjectionRecord, ProjectionStorage, StepResult, StepTarget } from './projection.ts';
import { encodeToken, type Position } from './position.ts';
import { failureCode, noTracing, type Span, type Tracing } from './tracing.ts';
import { WakeSignal } from './wake-signal.ts';

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
  /** A span for each step that applies events, linked to the traces of the events it applied. */
  tracing?: Tracing;
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

/**
 * The database is away, or (a process manager's command) other writers kept winning a stream: not the
 * event's fault, so the step is tried again rather than failed.
 */
const isTransient = (error: unknown) => error instanceof UnavailableError || error instanceof ConcurrencyConflictError;

/** Doubles from `first` up to `max`; back to `first` on reset. */
class Backoff {
  private ms: number;
  constructor(
    private readonly first: number,
    private readonly max: number,
  ) {
    this.ms = first;
  }
  /** The delay now; the next is twice as long. */
  next(): number {
    const ms = this.ms;
    this.ms = Math.min(this.ms * 2, this.max);
    return ms;
  }
  reset(): void {
    this.ms = this.first;
  }
}

class Runner<Tx> implements ProjectionRunner {
  readonly name: string;
  private readonly processManager: boolean;
  private readonly batch: BatchSize;
  private readonly firstBuildAsRebuildFrom: number;
  private readonly pollMs: number;
  private readonly log: Logger;
  private readonly tracing: Tracing;
  /** The span of the last live step that applied events (what the tracker's waits link to). */
  private stepTrace: string | undefined;
  private readonly signal = new WakeSignal();
  /** After a failed round: waits that double up to 5 s. */
  private readonly outage = new Backoff(100, 5000);
  /** Events held back by an open older transaction: looks again soon, then less and less often. */
  private readonly hidden = new Backoff(2, 100);

  private loop: Promise<void> | undefined;
  private stopping = false;
  /** Started again while still stopping: run once that stop is done. */
  private restartAfterStop = false;
  private mustReload = true;
  /** A first build may go through shadow copies: looked at once per start (again after an outage). */
  private firstLoad = true;
  private record: ProjectionRecord | undefined;

  constructor(private readonly deps: ProjectionRunnerDeps<Tx>) {
    const { projection } = deps;
    this.name = projection.name;
    this.processManager = projection.kind === 'PROCESS_MANAGER';
    // A process manager's batch is a run of commands before one checkpoint: kept small, so that its
    // effects show soon and a replay after a crash is short. A publisher's is a run of messages in flight
    // at once, which each must be acknowledged in time. Neither builds through shadow tables.
    const base = this.processManager ? Math.min(deps.batchSize ?? 100, 100) : (deps.batchSize ?? 500);
    const max = projection.kind === 'PUBLISHER' ? Math.max(base, 2000) : Math.max(base, deps.maxBatchSize ?? 10_000);
    this.batch = new BatchSize(base, this.processManager ? base : max);
    const rebuildable = projection.kind === undefined || projection.kind === 'PROJECTION';
    this.firstBuildAsRebuildFrom = rebuildable ? (deps.firstBuildAsRebuildFrom ?? 20_000) : Infinity;
    this.pollMs = deps.pollMs ?? 2000;
    this.log = deps.log ?? silentLogger;
    this.tracing = deps.tracing ?? noTracing;
  }

  start(): void {
    // Still stopping (its lock was lost, and has just been taken again): run again once that loop ends.
    if (this.loop) {
      this.restartAfterStop = this.stopping;
      return;
    }
    this.stopping = false;
    this.mustReload = true;
    this.loop = this.run().finally(() => {
      this.loop = undefined;
      if (this.restartAfterStop) {
        this.restartAfterStop = false;
        this.start();
      }
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.restartAfterStop = false;
    this.signal.wake();
    await this.loop;
  }

  wake(): void {
    this.signal.wake();
  }

  reload(): void {
    this.mustReload = true;
    this.signal.wake();
  }

  private readonly isStopping = () => this.stopping;

  private async run(): Promise<void> {
    while (!this.stopping) {
      try {
        await this.round();
        this.outage.reset();
      } catch (error) {
        // The database is away (or something unforeseen): wait, then start over from the stored checkpoint.
        this.log.error({ projection: this.name, error: errorText(error) }, 'projection step failed; retrying');
        this.mustReload = true;
        await new Promise((resolve) => setTimeout(resolve, this.outage.next()));
      }
    }
  }

  /** One round: the state if it may have changed, a live step, a rebuild step, then a wait unless busy. */
  private async round(): Promise<void> {
    const record = await this.current();
    if (!record) return;
    this.signal.take();
    if (record.state === 'PAUSED' || record.state === 'FAILED') {
      await this.signal.wait(this.pollMs, this.isStopping);
      this.mustReload = true;
      return;
    }
    // A rebuild of a projection that has applied nothing (a first build) leaves the live copy alone:
    // stepping it too would do the same work twice, and the swap brings it up to date.
    const firstBuild = record.state === 'REBUILDING' && record.position === null;
    const live = firstBuild ? NOTHING_READ : await this.step('live', record.position);
    if (live === 'failed' || live.kind === 'stale') {
      this.mustReload = true;
      return;
    }
    let busy = false;
    if (live.to) {
      record.position = live.to;
      this.deps.tracker?.advance(this.name, live.to, live.effects, this.stepTrace);
      busy = live.read >= this.batch.current;
    }
    if (record.state === 'REBUILDING') busy = (await this.rebuildStep(record)) || busy;
    this.batch.next(busy);
    // Let timers and I/O in between batches: an embedded database answers without ever leaving the
    // microtask queue, so a long catch-up would otherwise starve the rest of the process.
    await new Promise((resolve) => setImmediate(resolve));
    if (!busy) await this.idle(live.pending === true);
  }

  /**
   * Waits for a wake-up. Events held back by an open older transaction become visible when it ends, and
   * no notification says so: then it looks again soon.
   */
  private async idle(hidden: boolean): Promise<void> {
    if (!hidden) this.hidden.reset();
    await this.signal.wait(hidden ? Math.min(this.hidden.next(), this.pollMs) : this.pollMs, this.isStopping);
    // The poll doubles as a check for state changes whose notification was lost.
    if (!this.signal.woken) this.mustReload = true;
  }

  /** The projection's record, read again when it may have changed; undefined when this round should start over. */
  private async current(): Promise<ProjectionRecord | undefined> {
    if (!this.mustReload && this.record) return this.record;
    this.mustReload = false;
    const record = await this.deps.storage.load(this.name);
    this.record = record;
    if (record.position) this.deps.tracker?.advance(this.name, record.position, record.effects);
    // Looked at until it has been once without an outage; reloaded next round when it started a rebuild.
    const neverApplied = record.state === 'RUNNING' && record.position === null;
    if (this.firstLoad && neverApplied && (await this.firstBuildAsRebuild())) return undefined;
    this.firstLoad = false;
    return record;
  }

  // Unhandled events are read (so the checkpoint passes them) but never reach apply.
  private readonly applyHandled = async (events: StoredEvent[], tx: Tx) => {
    const handled = events.filter((e) => this.deps.projection.handles.has(e.type));
    if (handled.length > 0) await this.deps.projection.apply(handled, tx);
  };

  /**
   * Applies the handled events inside the step's span, opened (back-dated to the step's start) only once
   * there are some, so that steps that apply nothing leave no span; it links to the events' traces.
   */
  private tracedApply(step: { span?: Span; began: number; applied: number; read: number }) {
    // Called once per tenant's run of the batch (infra/projections/step-apply.ts): the counts add up.
    return async (events: StoredEvent[], tx: Tx) => {
      const handled = events.filter((e) => this.deps.projection.handles.has(e.type));
      step.read += events.length;
      if (handled.length === 0) return;
      step.applied += handled.length;
      const kind = this.deps.projection.kind ?? 'PROJECTION';
      step.span ??= this.tracing.start(`${kind.toLowerCase().replace('_', ' ')} ${this.name}`, {
        startTime: step.began,
        attributes: { 'converge.projection': this.name, 'converge.projection.kind': kind },
      });
      step.span.setAttributes({
        'converge.events': step.applied,
        'converge.events.read': step.read,
        'converge.position.to': encodeToken(events.at(-1)!.position),
      });
      step.span.addLinks(handled.flatMap((e) => (e.metadata.traceparent ? [e.metadata.traceparent] : [])));
      await this.tracing.within(step.span, () => this.deps.projection.apply(handled, tx));
    };
  }

  /** Runs a step; on an event that cannot be applied, finds it (one event at a time) and fails there. */
  private async step(target: StepTarget, from: Position | null): Promise<StepResult | 'failed'> {
    const size = this.batch.current;
    const traced = this.tracing.enabled
      ? { span: undefined as Span | undefined, began: performance.timeOrigin + performance.now(), applied: 0, read: 0 }
      : undefined;
    try {
      const result = traced
        ? await this.deps.storage.step(this.name, target, from, size, this.tracedApply(traced), () => traced.span?.traceparent())
        : await this.deps.storage.step(this.name, target, from, size, this.applyHandled);
      if (target === 'live') this.stepTrace = traced?.span?.traceparent();
      return result;
    } catch (error) {
      traced?.span?.fail(failureCode(error));
      if (isTransient(error)) throw error;
    } finally {
      traced?.span?.setAttributes({ 'converge.target': target });
      traced?.span?.end();
    }
    return bisectFailure(
      {
        name: this.name,
        storage: this.deps.storage,
        apply: this.applyHandled,
        isTransient,
        advanced: (position, effects) => this.deps.tracker?.advance(this.name, position, effects),
        log: this.log,
      },
      target,
      from,
      size,
    );
  }

  /** Starts a first build over a long log as a rebuild (see firstBuildAsRebuildFrom); true when it did. */
  private async firstBuildAsRebuild(): Promise<boolean> {
    if (!Number.isFinite(this.firstBuildAsRebuildFrom)) return false;
    const { storage } = this.deps;
    if (!(await storage.hasEvents(this.firstBuildAsRebuildFrom)) || !(await storage.beginRebuild(this.name))) return false;
    this.log.info({ projection: this.name, atLeast: this.firstBuildAsRebuildFrom }, 'projection building from scratch as a rebuild');
    this.mustReload = true;
    return true;
  }

  /** One rebuild step; true when there is more to do right away. */
  private async rebuildStep(record: ProjectionRecord): Promise<boolean> {
    const { storage, projection } = this.deps;
    if (record.rebuildPosition === null) {
      this.log.info({ projection: this.name }, 'projection rebuild starting');
      await storage.prepareShadow(this.name, projection.tables);
      this.mustReload = true;
      return true;
    }
    const asked = this.batch.current;
    const shadow = await this.step('shadow', record.rebuildPosition);
    if (shadow === 'failed' || shadow.kind === 'stale') {
      this.mustReload = true;
      return false;
    }
    if (shadow.to) record.rebuildPosition = shadow.to;
    if (shadow.read >= asked) return true;
    // Caught up: give the copy the indexes it was filled without (then catch up with what arrived
    // meanwhile), and finish what is left and swap, in one transaction.
    if (await storage.completeShadow(this.name, projection.tables)) return true;
    const swapped = await storage.swap(this.name, projection.tables, record.rebuildPosition, this.applyHandled);
    this.mustReload = true;
    if (swapped.kind === 'applied' && swapped.to) {
      this.deps.tracker?.advance(this.name, swapped.to);
      this.log.info({ projection: this.name }, 'projection rebuild swapped in');
    }
    return true;
  }
}

export const createProjectionRunner = <Tx>(deps: ProjectionRunnerDeps<Tx>): ProjectionRunner => new Runner(deps);

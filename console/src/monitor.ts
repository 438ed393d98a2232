// The console's live picture of the server, kept up to date by what the server pushes: projectionProgress
// (every advance of a projection) and eventLog (a sample of the log's head each second). Statuses (lag,
// state, a rebuild's progress) are read again when a push says they may have changed, at most once a
// second; when nothing moves, the page asks nothing.
import { ApiError, type Api } from './api.ts';
import { RateOf, Series } from './history.ts';
import {
  type Action,
  LOG_SAMPLES,
  type LogSample,
  mutationOf,
  OVERVIEW,
  type Overview,
  PROGRESS,
  type Processor,
  type Progress,
  type Replica,
  STATUSES,
  type Statuses,
} from './operations.ts';

export type Outcome = { text: string; ok: boolean };

export type View = {
  connection: 'live' | 'reconnecting';
  /** FAILED first, then in the server's order. */
  processors: Processor[];
  /** Date.now() when each status was read: its lag in seconds grows from there while events wait. */
  readAt: Record<string, number>;
  replicas: Replica[];
  log: LogSample | null;
  /** Events/s appended at the last sample. */
  rate: number | undefined;
  /** For each projection rebuilding: the most events its new copy had to go (the bar's length). */
  rebuilds: Record<string, number>;
  /** Operations in flight, by projection. */
  busy: Record<string, Action>;
  outcome: Outcome | null;
};

const REFRESH_MS = 1000;

const failedFirst = (list: Processor[]) => [...list].sort((a, b) => Number(b.state === 'FAILED') - Number(a.state === 'FAILED'));

/** Lag in seconds now: the oldest waiting event keeps ageing after the status was read. */
export const lagSecondsNow = (p: Processor, readAt: number | undefined, now = Date.now()) =>
  p.lagEvents > 0 && readAt !== undefined ? p.lagSeconds + Math.max(0, now - readAt) / 1000 : p.lagSeconds;

export class Monitor {
  private view: View;
  private readonly listeners = new Set<(view: View) => void>();
  private readonly stops: (() => void)[] = [];
  /** Lag in events and in seconds over time, per projection. */
  readonly lag = new Map<string, Series>();
  /** Events/s appended over time. */
  readonly rates = new Series(1);
  private readonly rateOf = new RateOf();
  private refreshing: Promise<void> | undefined;
  private refreshAgain = false;
  private lastRefresh = 0;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private headAtRefresh: string | null = null;

  constructor(
    private readonly api: Api,
    /** A token problem met after the start (the connection refused it): the page asks for a token again. */
    private readonly onAuthProblem: (error: ApiError) => void,
  ) {
    this.view = {
      connection: 'reconnecting',
      processors: [],
      readAt: {},
      replicas: [],
      log: null,
      rate: undefined,
      rebuilds: {},
      busy: {},
      outcome: null,
    };
  }

  current(): View {
    return this.view;
  }

  listen(listener: (view: View) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Reads everything once (throws ApiError: a token problem among others), then follows the pushes. */
  async start(): Promise<void> {
    const overview = await this.api.request<Overview>(OVERVIEW);
    this.applyStatuses(overview);
    this.headAtRefresh = overview.eventLog.head;
    this.sample(overview.eventLog);
    const onConnection = (connected: boolean) => this.update({ connection: connected ? 'live' : 'reconnecting' });
    const failed = (error: ApiError) => {
      if (error.code === 'UNAUTHENTICATED' || error.code === 'FORBIDDEN' || error.code === '4403') this.onAuthProblem(error);
      else this.update({ outcome: { text: `Live updates stopped: ${error.message}`, ok: false } });
    };
    this.stops.push(
      this.api.subscribe<{ projectionProgress: Progress }>(
        PROGRESS,
        { next: (d) => this.progressed(d.projectionProgress), error: failed },
        onConnection,
      ),
      this.api.subscribe<{ eventLog: LogSample }>(LOG_SAMPLES, { next: (d) => this.sample(d.eventLog), error: failed }, onConnection),
    );
  }

  stop(): void {
    for (const stop of this.stops.splice(0)) stop();
    clearTimeout(this.refreshTimer);
    this.api.close();
  }

  async act(name: string, action: Action): Promise<void> {
    const { field, query } = mutationOf(action);
    this.update({ busy: { ...this.view.busy, [name]: action }, outcome: null });
    let outcome: Outcome;
    try {
      const data = await this.api.request<Record<string, Processor>>(query, { name });
      const status = data[field]!;
      this.replace(status, true);
      outcome = { text: `${name}: ${describe(action, status)}`, ok: true };
    } catch (error) {
      const problem = error instanceof ApiError ? `${error.message}${error.code ? ` (${error.code})` : ''}` : String(error);
      outcome = { text: `Could not ${action} ${name}: ${problem}`, ok: false };
    }
    const { [name]: _done, ...busy } = this.view.busy;
    this.update({ busy, outcome });
  }

  private progressed(progress: Progress): void {
    const known = this.view.processors.find((p) => p.name === progress.projection);
    if (known && known.position !== progress.position) this.replace({ ...known, position: progress.position }, false);
    this.scheduleRefresh();
  }

  /**
   * A sample of the log's head: the rate (from the database's clock), a point of every lag chart, and a
   * refresh when statuses may have moved. The charts' time axis is the page's clock, the one statuses
   * arrive on too.
   */
  private sample(log: LogSample): void {
    const rate = this.rateOf.next(Date.parse(log.sampledAt) / 1000, log.appendedEvents);
    if (rate !== undefined) this.rates.add(Date.now() / 1000, [rate]);
    this.chartLag();
    this.update({ log, rate: rate ?? this.view.rate });
    // A rebuild's new copy moves without telling anyone: followed while it runs.
    if (log.head !== this.headAtRefresh || this.view.processors.some((p) => p.state === 'REBUILDING')) this.scheduleRefresh();
  }

  /** A point of every lag chart, now. */
  private chartLag(): void {
    const now = Date.now();
    for (const p of this.view.processors) {
      const series = this.lag.get(p.name) ?? this.lag.set(p.name, new Series(2)).get(p.name)!;
      series.add(now / 1000, [p.lagEvents, lagSecondsNow(p, this.view.readAt[p.name], now)]);
    }
  }

  private scheduleRefresh(): void {
    if (this.refreshing) {
      this.refreshAgain = true;
      return;
    }
    if (this.refreshTimer !== undefined) return;
    const wait = Math.max(0, this.lastRefresh + REFRESH_MS - Date.now());
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      this.refreshing = this.refresh().finally(() => {
        this.refreshing = undefined;
        if (this.refreshAgain) {
          this.refreshAgain = false;
          this.scheduleRefresh();
        }
      });
    }, wait);
  }

  private async refresh(): Promise<void> {
    this.lastRefresh = Date.now();
    const head = this.view.log?.head ?? null;
    try {
      this.applyStatuses(await this.api.request<Statuses>(STATUSES));
      this.headAtRefresh = head;
    } catch (error) {
      if (error instanceof ApiError && (error.code === 'UNAUTHENTICATED' || error.code === 'FORBIDDEN')) this.onAuthProblem(error);
      // Otherwise the next push tries again.
    }
  }

  private applyStatuses({ projections, replicas }: Statuses): void {
    const rebuilds: Record<string, number> = {};
    for (const p of projections) {
      if (p.state === 'REBUILDING' && p.rebuildLagEvents !== null)
        rebuilds[p.name] = Math.max(this.view.rebuilds[p.name] ?? 0, p.rebuildLagEvents);
      const was = this.view.processors.find((q) => q.name === p.name);
      if (was?.state === 'REBUILDING' && p.state === 'RUNNING')
        this.update({ outcome: { text: `${p.name}: rebuilt, and swapped in`, ok: true } });
    }
    const now = Date.now();
    const readAt = Object.fromEntries(projections.map((p) => [p.name, now]));
    this.update({ processors: failedFirst(projections), replicas, readAt, rebuilds });
    this.chartLag(); // the charts show what the table shows
  }

  /** One processor's status: `read` when it is a fresh read of all of it (a mutation's answer), not a position alone. */
  private replace(status: Processor, read: boolean): void {
    const processors = this.view.processors.map((p) => (p.name === status.name ? status : p));
    const readAt = read ? { ...this.view.readAt, [status.name]: Date.now() } : this.view.readAt;
    this.update({ processors: failedFirst(processors), readAt });
  }

  private update(change: Partial<View>): void {
    this.view = { ...this.view, ...change };
    for (const listener of this.listeners) listener(this.view);
  }
}

function describe(action: Action, status: Processor): string {
  if (action === 'rebuild') return `rebuild started (${status.state}); its new copy replaces the old one once it has caught up`;
  return `${action === 'pause' ? 'paused' : 'resumed'}, now ${status.state}`;
}

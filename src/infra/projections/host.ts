// Hosts this process's share of the projection runners: each projection runs in exactly one process,
// the one holding its advisory lock (on a session of its own, so the lock dies with the process or its
// connection and another process takes over). Runners wake on append notifications, with a slow poll
// behind them; after the listener reconnects they re-read from their checkpoints.
import { sql } from 'drizzle-orm';
import type { ConsistencyTracker } from '../../core/consistency-tracker.ts';
import type { Tracing } from '../../core/tracing.ts';
import { errorText, silentLogger, type Logger } from '../../core/logger.ts';
import type { Position } from '../../core/position.ts';
import { createProjectionRunner, type ProjectionRunner } from '../../core/projection-runner.ts';
import type { SqlProjection } from '../../core/sql-projection.ts';
import { withTimeout } from '../../core/with-timeout.ts';
import type { Database, Session } from '../db/database.ts';
import { oldestAppendInFlight } from '../event-store/append-lock.ts';
import { EVENTS_CHANNEL } from '../event-store/append-notifier.ts';
import type { PostgresEventStore } from '../event-store/postgres-event-store.ts';
import { commitMarkStatement } from '../replicas/commit-marks.ts';
import { CONTROL_CHANNEL } from './projection-records.ts';
import { createProjectionStorage } from './projection-storage.ts';

/** First key of every projection lock; the second is hashtext(name). */
const LOCK_CLASS = 7221;
const HORIZON_CHECK_MS = 5000;
const HORIZON_WARN_SECONDS = 5;

export type ProjectionHostOptions = {
  database: Database;
  store: PostgresEventStore;
  projections: readonly SqlProjection[];
  tracker?: ConsistencyTracker;
  log?: Logger;
  batchSize?: number;
  firstBuildAsRebuildFrom?: number;
  pollMs?: number;
  /** How often a process that does not hold a projection's lock tries to take it. */
  lockRetryMs?: number;
  /** Send a commit mark after each step (queries read on replicas: see infra/replicas/commit-marks.ts). */
  commitMarks?: boolean;
  /** Spans of the steps (see projection-runner.ts). */
  tracing?: Tracing;
};

export type ProjectionHost = {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Names of the projections this process runs now. */
  held(): string[];
  /** New events were appended (in this process): wake the runners held here. */
  wake(): void;
  /** Started and not stopped: runs the projections whose locks it holds, tries for the others. */
  running(): boolean;
};

export function createProjectionHost(options: ProjectionHostOptions): ProjectionHost {
  const { database, projections } = options;
  const log = options.log ?? silentLogger;
  const lockRetryMs = options.lockRetryMs ?? 1000;
  // Commit marks, not awaited by the runner: one in flight per projection, the newest position sent next
  // (a mark covers every position before it). A lost one only sends the reads that wanted it to the primary.
  const marks = new Map<string, { sending?: Promise<void>; next?: Position }>();
  const mark = (name: string, position: Position) => {
    const state = marks.get(name) ?? {};
    marks.set(name, state);
    state.next = position;
    state.sending ??= (async () => {
      while (state.next) {
        const at = state.next;
        state.next = undefined;
        await database
          .rows(commitMarkStatement(name, at))
          .catch((error) => log.warn({ projection: name, error: errorText(error) }, 'commit mark not sent'));
      }
      state.sending = undefined;
    })();
  };
  const storage = createProjectionStorage(database, options.store, projections, options.commitMarks ? mark : undefined);
  const runners = new Map<string, ProjectionRunner>(
    projections.map((projection) => [
      projection.name,
      createProjectionRunner({
        projection,
        storage,
        tracker: options.tracker,
        batchSize: options.batchSize,
        firstBuildAsRebuildFrom: options.firstBuildAsRebuildFrom,
        pollMs: options.pollMs,
        log,
        tracing: options.tracing,
      }),
    ]),
  );
  const held = new Set<string>();
  let session: Session | undefined;
  let stopped = true;
  let timer: NodeJS.Timeout | undefined;
  let acquiring: Promise<void> | undefined;
  let unlisten: (() => Promise<void>)[] = [];

  const releaseAll = async () => {
    const names = [...held];
    held.clear();
    await Promise.all(names.map((name) => runners.get(name)!.stop()));
  };

  // An append that runs long holds every projection back (docs/decisions/event-horizon.md): say which.
  let horizonCheckedAt = 0;
  let warnedAbout: number | undefined;
  async function watchHorizon() {
    if (held.size === 0 || Date.now() - horizonCheckedAt < HORIZON_CHECK_MS) return;
    horizonCheckedAt = Date.now();
    const oldest = await withTimeout(oldestAppendInFlight(database), 5000);
    if (!oldest || oldest.seconds < HORIZON_WARN_SECONDS) {
      warnedAbout = undefined;
      return;
    }
    if (warnedAbout === oldest.pid) return;
    warnedAbout = oldest.pid;
    log.warn(
      { backendPid: oldest.pid, seconds: Math.round(oldest.seconds), waitingOn: oldest.waitingOn },
      'an append in flight holds every projection back until it ends',
    );
  }

  /** One attempt at a time: by the timer, or at once when the database is back (see start). */
  function acquire(): Promise<void> {
    clearTimeout(timer);
    acquiring ??= attempt().finally(() => {
      acquiring = undefined;
      if (!stopped) timer = setTimeout(acquire, lockRetryMs);
    });
    return acquiring;
  }

  async function attempt() {
    if (stopped) return;
    try {
      if (!session) {
        const fresh = await database.reserveSession();
        session = fresh;
        void fresh.closed.then(async () => {
          if (session !== fresh) return;
          session = undefined;
          if (!stopped) log.error({}, 'projection lock session lost; stopping runners until the locks are taken again');
          await releaseAll();
        });
      }
      for (const name of runners.keys()) {
        if (held.has(name) || stopped) continue;
        // Bounded: a session whose connection died under a write may never answer (postgres.js #1154).
        const [row] = await withTimeout(
          session.rows<{ ok: boolean }>(sql`select pg_try_advisory_lock(${LOCK_CLASS}, hashtext(${name})) as ok`),
          5000,
        );
        if (row?.ok && !stopped) {
          held.add(name);
          log.info({ projection: name }, 'projection lock taken; running');
          runners.get(name)!.start();
        }
      }
      // Its own failure is not the lock session's: a database away shows up in the next attempt anyway.
      void watchHorizon().catch(() => {});
    } catch (error) {
      log.error({ error: errorText(error) }, 'projection lock attempt failed');
      // Start over on a new session: this one may be dead (its locks, if any, die with it).
      const dead = session;
      session = undefined;
      if (dead) {
        void dead.release().catch(() => {});
        await releaseAll();
      }
    }
  }

  const wakeAll = () => {
    for (const name of held) runners.get(name)!.wake();
  };

  return {
    async start() {
      if (!stopped) return;
      stopped = false;
      unlisten = [
        // The listener is back: so is the database, and the locks a lost session held may be free now.
        await database.listen(EVENTS_CHANNEL, wakeAll, () => {
          wakeAll();
          if (!stopped && held.size < runners.size) void acquire();
        }),
        await database.listen(
          CONTROL_CHANNEL,
          (name) => runners.get(name)?.reload(),
          () => {
            for (const r of runners.values()) r.reload();
          },
        ),
      ];
      await acquire();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      clearTimeout(timer);
      await Promise.all(unlisten.map((u) => u().catch(() => {})));
      await releaseAll();
      await Promise.all([...marks.values()].map((m) => m.sending));
      const s = session;
      session = undefined;
      await s?.release().catch(() => {});
    },
    held: () => [...held],
    wake: wakeAll,
    running: () => !stopped,
  };
}

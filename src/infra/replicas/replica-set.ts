// The hot-standby replicas queries may read from: each one's state (in rotation, down, lagging, promoted
// away, of another cluster) and how far it has replayed the primary's WAL, checked every second and, when
// a read waits for a WAL position, asked again on demand. A replica that fails a read is out until its
// next good check. At start, a URL that reaches no standby of the primary is refused.
import { setTimeout as sleep } from 'node:timers/promises';
import { errorText, type Logger } from '../../core/logger.ts';
import { freshRead } from '../../core/fresh-read.ts';
import type { Executor } from '../../core/sql.ts';
import { withTimeout } from '../../core/with-timeout.ts';
import { driverError } from '../db/errors.ts';
import { parseLsn } from './lsn.ts';

export type ReplicaState = 'STARTING' | 'IN_ROTATION' | 'LAGGING' | 'DOWN' | 'PROMOTED' | 'OTHER_CLUSTER';

/** A replica URL that reaches a server which is not a standby of the primary, found at start. */
export class ReplicaRefusedError extends Error {}

export type ReplicaStatus = {
  /** host:port/database, never the credentials. */
  name: string;
  state: ReplicaState;
  /** Milliseconds behind the primary at the last check (0 when it had replayed all the primary had flushed). */
  lagMs: number | null;
  /** Why it is out of rotation. */
  reason?: string;
};

export type ReplicaConnection = { name: string; executor: Executor; close(): Promise<void> };

export type ReplicaSetOptions = {
  replicas: readonly ReplicaConnection[];
  primary: Executor;
  maxLagMs: number;
  checkMs?: number;
  log: Logger;
};

export type ReplicaSet = {
  /** A replica in rotation (round robin), for a read that needs nothing in particular. */
  any(): number | undefined;
  /** Whether any replica is in rotation. */
  available(): boolean;
  /**
   * A replica in rotation that has replayed the WAL up to `lsn`; asked again until `deadline` (epoch
   * ms) while one in rotation is close enough behind to get there in time.
   */
  replayed(lsn: bigint, deadline: number): Promise<number | undefined>;
  executor(index: number): Executor;
  /** A read on the replica failed as if it were away: out of rotation until a check finds it well. */
  failed(index: number, error: unknown): void;
  status(): ReplicaStatus[];
  start(): Promise<void>;
  close(): Promise<void>;
};

type Replica = ReplicaConnection & { state: ReplicaState; lagMs: number | null; replay: bigint | null; reason?: string };

// The cluster's identity: a replica made from the primary (pg_basebackup, a provider's read replica) has
// the primary's system identifier; any other cluster has its own.
const IDENTITY = `(select system_identifier::text from pg_control_system())`;
const CHECK = `select ${IDENTITY} as system, pg_is_in_recovery() as standby, pg_last_wal_replay_lsn()::text as replay,
  (extract(epoch from now() - pg_last_xact_replay_timestamp()) * 1000)::float8 as age_ms`;
const REPLAY = `select pg_last_wal_replay_lsn()::text as replay`;
// On the primary: all a replica can have received.
const FLUSHED = `select pg_current_wal_flush_lsn()::text as lsn`;
const REPLAY_TIMEOUT_MS = 1000;

export function createReplicaSet(options: ReplicaSetOptions): ReplicaSet {
  const { log, maxLagMs } = options;
  const checkMs = options.checkMs ?? 1000;
  const replicas: Replica[] = options.replicas.map((r) => ({ ...r, state: 'STARTING', lagMs: null, replay: null }));
  let turn = 0;
  let primarySystem: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const setState = (replica: Replica, state: ReplicaState, reason?: string) => {
    if (replica.state === state) return void (replica.reason = reason);
    const was = replica.state;
    replica.state = state;
    replica.reason = reason;
    if (state === 'IN_ROTATION')
      log.info({ replica: replica.name, was }, was === 'STARTING' ? 'replica in rotation' : 'replica back in rotation');
    else log.warn({ replica: replica.name, state, reason }, 'replica out of rotation');
  };

  const pick = (fits: (r: Replica) => boolean) => {
    for (let i = 0; i < replicas.length; i++) {
      const index = (turn + i) % replicas.length;
      if (replicas[index]!.state === 'IN_ROTATION' && fits(replicas[index]!)) {
        turn = index + 1;
        return index;
      }
    }
    return undefined;
  };

  /** The primary's flushed position at each check, oldest first, kept as long as a lag can matter. */
  const flushed: { at: number; lsn: bigint }[] = [];
  const keepMs = Math.max(2 * maxLagMs, 10_000);

  /**
   * How far behind a replica is: 0 when it has replayed all the primary had flushed at the last check.
   * Otherwise the age of the last commit it replayed, which is exact while the primary is busy; but on a
   * quiet primary that is the time since the commit before, so it is capped by the time since the
   * primary had flushed no more than the replica has replayed (a check's resolution).
   */
  const lagOf = (replay: bigint, ageMs: number | null): number => {
    const latest = flushed.at(-1);
    if (!latest || replay >= latest.lsn) return 0;
    const caughtUpTo = flushed.findLast((sample) => sample.lsn <= replay);
    const bound = caughtUpTo ? Date.now() - caughtUpTo.at : Number.POSITIVE_INFINITY;
    return Math.max(0, Math.round(Math.min(ageMs ?? Number.POSITIVE_INFINITY, bound)));
  };

  const check = async (replica: Replica) => {
    try {
      const [row] = await withTimeout(
        replica.executor.query<{ system: string; standby: boolean; replay: string | null; age_ms: number | null }>(CHECK, []),
        2000,
      );
      if (primarySystem && row!.system !== primarySystem) {
        return setState(
          replica,
          'OTHER_CLUSTER',
          `it is not a replica of DATABASE_URL: its system identifier is ${row!.system}, the primary's ${primarySystem}`,
        );
      }
      if (!row!.standby) return setState(replica, 'PROMOTED', 'it is not in recovery: promoted, or not a standby');
      if (!row!.replay) {
        replica.replay = replica.lagMs = null;
        return setState(replica, 'LAGGING', 'it has not replayed any WAL yet');
      }
      replica.replay = parseLsn(row!.replay);
      replica.lagMs = lagOf(replica.replay, row!.age_ms);
      if (replica.lagMs > maxLagMs) setState(replica, 'LAGGING', `${replica.lagMs} ms behind (REPLICA_MAX_LAG_MS ${maxLagMs})`);
      else setState(replica, 'IN_ROTATION');
    } catch (error) {
      failed(replica, error);
    }
  };

  const checkAll = async () => {
    try {
      const [row] = await withTimeout(options.primary.query<{ lsn: string }>(FLUSHED, []), 2000);
      flushed.push({ at: Date.now(), lsn: parseLsn(row!.lsn) });
      while (flushed.length > 1 && Date.now() - flushed[0]!.at > keepMs) flushed.shift();
    } catch {
      // The primary is away: the replicas are judged by the samples already taken.
    }
    await Promise.all(replicas.map(check));
  };

  // On demand: how far the replicas in rotation have replayed now (one read each, shared by every waiter;
  // one that does not answer within REPLAY_TIMEOUT_MS is out until its next good check).
  const refreshReplay = freshRead(() =>
    Promise.all(
      replicas
        .filter((r) => r.state === 'IN_ROTATION')
        .map(async (r) => {
          try {
            const [row] = await withTimeout(r.executor.query<{ replay: string | null }>(REPLAY, []), REPLAY_TIMEOUT_MS);
            if (row?.replay) r.replay = parseLsn(row.replay);
          } catch (error) {
            failed(r, error);
          }
        }),
    ),
  );

  function failed(replica: Replica, error: unknown) {
    replica.lagMs = null;
    setState(replica, 'DOWN', errorText(driverError(error)));
  }

  const schedule = () => {
    if (closed) return;
    timer = setTimeout(() => void checkAll().finally(schedule), checkMs);
    timer.unref();
  };

  return {
    any: () => pick(() => true),
    available: () => replicas.some((r) => r.state === 'IN_ROTATION'),
    async replayed(lsn, deadline) {
      const reached = (r: Replica) => r.replay !== null && r.replay >= lsn;
      let index = pick(reached);
      if (index !== undefined) return index;
      // A waiter leaves at its deadline even if a replica has not answered yet.
      const abandon = new AbortController();
      const timeUp = sleep(Math.max(0, deadline - Date.now()), 'time up', { signal: abandon.signal }).catch(() => 'time up');
      try {
        // Only a replica that is usually this close behind is worth the wait. Each round asks again as
        // soon as the last answer is in (a timer would add a millisecond), letting I/O in between.
        while (replicas.some((r) => r.state === 'IN_ROTATION' && (r.lagMs ?? 0) < deadline - Date.now())) {
          if ((await Promise.race([refreshReplay(), timeUp])) === 'time up') return undefined;
          index = pick(reached);
          if (index !== undefined) return index;
          await new Promise((resolve) => setImmediate(resolve));
        }
        return undefined;
      } finally {
        abandon.abort();
      }
    },
    executor: (index) => replicas[index]!.executor,
    failed: (index, error) => failed(replicas[index]!, error),
    status: () => replicas.map((r) => ({ name: r.name, state: r.state, lagMs: r.lagMs, ...(r.reason && { reason: r.reason }) })),
    async start() {
      const [row] = await options.primary.query<{ system: string }>(`select ${IDENTITY} as system`, []);
      primarySystem = row!.system;
      await checkAll();
      // One that cannot be reached now is judged when it can; one that answers as no standby of ours is a
      // mistake in the configuration.
      const wrong = replicas.find((r) => r.state === 'OTHER_CLUSTER' || r.state === 'PROMOTED');
      if (wrong) throw new ReplicaRefusedError(`DATABASE_REPLICA_URLS: ${wrong.name}: ${wrong.reason}`);
      schedule();
    },
    async close() {
      closed = true;
      clearTimeout(timer);
      await Promise.all(replicas.map((r) => r.close().catch(() => {})));
    },
  };
}

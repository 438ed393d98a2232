// The hot-standby replicas queries may read from: each one's state (in rotation, down, lagging, promoted
// away) and how far it has replayed the primary's WAL, checked every second and, when a read waits for
// a WAL position, asked again on demand. A replica that fails a read is out until its next good check.
import { setTimeout as sleep } from 'node:timers/promises';
import { errorText, type Logger } from '../../core/logger.ts';
import { freshRead } from '../../core/fresh-read.ts';
import type { Executor } from '../../core/sql.ts';
import { withTimeout } from '../../core/with-timeout.ts';
import { parseLsn } from './lsn.ts';

export type ReplicaState = 'STARTING' | 'IN_ROTATION' | 'LAGGING' | 'DOWN' | 'PROMOTED';

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

const CHECK = `select pg_is_in_recovery() as standby, pg_last_wal_replay_lsn()::text as replay,
  (extract(epoch from now() - pg_last_xact_replay_timestamp()) * 1000)::float8 as age_ms`;
const REPLAY = `select pg_last_wal_replay_lsn()::text as replay`;
// On the primary: all a replica can have received.
const FLUSHED = `select pg_current_wal_flush_lsn()::text as lsn`;

export function createReplicaSet(options: ReplicaSetOptions): ReplicaSet {
  const { log, maxLagMs } = options;
  const checkMs = options.checkMs ?? 1000;
  const replicas: Replica[] = options.replicas.map((r) => ({ ...r, state: 'STARTING', lagMs: null, replay: null }));
  let turn = 0;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const setState = (replica: Replica, state: ReplicaState, reason?: string) => {
    if (replica.state === state) return void (replica.reason = reason);
    const was = replica.state;
    replica.state = state;
    replica.reason = reason;
    if (state === 'IN_ROTATION') log.info({ replica: replica.name, was }, was === 'STARTING' ? 'replica in rotation' : 'replica back in rotation');
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

  const check = async (replica: Replica, primaryFlush: bigint | undefined) => {
    try {
      const [row] = await withTimeout(replica.executor.query<{ standby: boolean; replay: string | null; age_ms: number | null }>(CHECK, []), 2000);
      if (!row!.standby) return setState(replica, 'PROMOTED', 'it is not in recovery: promoted, or not a standby');
      replica.replay = row!.replay ? parseLsn(row!.replay) : null;
      // Behind what the primary had flushed just before: as old as the last commit it replayed.
      const behind = primaryFlush === undefined || replica.replay === null || replica.replay < primaryFlush;
      replica.lagMs = behind ? Math.max(0, Math.round(row!.age_ms ?? Number.POSITIVE_INFINITY)) : 0;
      if (replica.replay === null) setState(replica, 'LAGGING', 'it has not replayed any WAL yet');
      else if (replica.lagMs > maxLagMs) setState(replica, 'LAGGING', `${replica.lagMs} ms behind (REPLICA_MAX_LAG_MS ${maxLagMs})`);
      else setState(replica, 'IN_ROTATION');
    } catch (error) {
      replica.lagMs = null;
      setState(replica, 'DOWN', errorText(error));
    }
  };

  const checkAll = async () => {
    const primaryFlush = await options.primary
      .query<{ lsn: string }>(FLUSHED, [])
      .then(([row]) => parseLsn(row!.lsn))
      .catch(() => undefined);
    await Promise.all(replicas.map((r) => check(r, primaryFlush)));
  };

  // On demand: how far the replicas in rotation have replayed now (one read each, shared by every waiter).
  const refreshReplay = freshRead(() =>
    Promise.all(
      replicas
        .filter((r) => r.state === 'IN_ROTATION')
        .map(async (r) => {
          try {
            const [row] = await r.executor.query<{ replay: string | null }>(REPLAY, []);
            if (row?.replay) r.replay = parseLsn(row.replay);
          } catch (error) {
            failed(r, error);
          }
        }),
    ),
  );

  function failed(replica: Replica, error: unknown) {
    replica.lagMs = null;
    setState(replica, 'DOWN', errorText(error));
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
      for (;;) {
        const index = pick(reached);
        if (index !== undefined) return index;
        // Only a replica that is usually this close behind is worth the wait.
        const left = deadline - Date.now();
        if (left <= 0 || !replicas.some((r) => r.state === 'IN_ROTATION' && (r.lagMs ?? 0) < left)) return undefined;
        await refreshReplay();
        const now = pick(reached);
        if (now !== undefined) return now;
        await sleep(1);
      }
    },
    executor: (index) => replicas[index]!.executor,
    failed: (index, error) => failed(replicas[index]!, error),
    status: () => replicas.map((r) => ({ name: r.name, state: r.state, lagMs: r.lagMs, ...(r.reason && { reason: r.reason }) })),
    async start() {
      await checkAll();
      schedule();
    },
    async close() {
      closed = true;
      clearTimeout(timer);
      await Promise.all(replicas.map((r) => r.close().catch(() => {})));
    },
  };
}

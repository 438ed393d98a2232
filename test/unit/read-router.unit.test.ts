// Where a query reads when there are replicas: the replica set's choice of replica by WAL position, the
// router's and routed handler's fallbacks to the primary, and the commit marks (fake executors and
// database; the real replication is in test/e2e/replicas.e2e.test.ts).
import { describe, expect, it } from 'vitest';
import { createConsistencyTracker } from '../../src/core/consistency-tracker.ts';
import { UnavailableError } from '../../src/core/errors.ts';
import { silentLogger } from '../../src/core/logger.ts';
import type { QueryDefinition } from '../../src/core/module.ts';
import type { Executor } from '../../src/core/sql.ts';
import type { Database } from '../../src/infra/db/database.ts';
import { createCommitMarks, type CommitMarks } from '../../src/infra/replicas/commit-marks.ts';
import { formatLsn, parseLsn } from '../../src/infra/replicas/lsn.ts';
import { createReadRouter, routedQuery } from '../../src/infra/replicas/read-router.ts';
import { createReplicaSet } from '../../src/infra/replicas/replica-set.ts';

/** A replica whose replay position and state the test sets; `asked` counts its replay reads. */
function fakeReplica(name: string) {
  const r = { name, replay: 0n, standby: true, ageMs: 0, down: false, asked: 0 };
  const executor: Executor = {
    rows: () => Promise.reject(new Error('not used')),
    async query<T>(text: string) {
      if (r.down) throw new UnavailableError({ cause: new Error('connection refused') });
      if (text.includes('pg_is_in_recovery')) return [{ standby: r.standby, replay: formatLsn(r.replay), age_ms: r.ageMs }] as T[];
      r.asked++;
      return [{ replay: formatLsn(r.replay) }] as T[];
    },
  };
  return Object.assign(r, { connection: { name, executor, close: async () => {} } });
}

const primaryAt = (lsn: () => bigint): Executor => ({
  rows: () => Promise.reject(new Error('not used')),
  query: async <T>() => [{ lsn: formatLsn(lsn()) }] as T[],
});

const marksOf = (lsn: bigint | undefined): CommitMarks => ({
  start: async () => {},
  stop: async () => {},
  lsnFor: async (_p, _pos, deadline) =>
    lsn ?? (await new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), Math.max(0, deadline - Date.now())))),
});

describe('WAL positions', () => {
  it('read and write PostgreSQL text form', () => {
    expect(parseLsn('16/B374D848')).toBe((0x16n << 32n) + 0xb374d848n);
    expect(formatLsn(parseLsn('0/1D8AB10'))).toBe('0/1D8AB10');
    expect(() => parseLsn('nope')).toThrow(/not a WAL position/);
  });
});

describe('replica set', () => {
  it('waits for a replica that usually keeps up to replay a position, asking it again; gives up at the deadline', async () => {
    const a = fakeReplica('a');
    const set = createReplicaSet({
      replicas: [a.connection],
      primary: primaryAt(() => 100n),
      maxLagMs: 1000,
      log: silentLogger,
      checkMs: 60_000,
    });
    a.replay = 100n;
    await set.start();
    expect(set.status()[0]).toMatchObject({ state: 'IN_ROTATION', lagMs: 0 });
    setTimeout(() => (a.replay = 150n), 20);
    expect(await set.replayed(150n, Date.now() + 1000)).toBe(0);
    expect(a.asked).toBeGreaterThan(0);
    expect(await set.replayed(200n, Date.now() + 30)).toBeUndefined();
    await set.close();
  });

  it('on a quiet primary, a commit just flushed does not make a replica look as old as the commit before it', async () => {
    const r = fakeReplica('quiet');
    let flushed = 100n;
    const set = createReplicaSet({
      replicas: [r.connection],
      primary: primaryAt(() => flushed),
      maxLagMs: 1000,
      log: silentLogger,
      checkMs: 20,
    });
    r.replay = 100n;
    await set.start();
    flushed = 120n; // a commit after an hour of nothing: the replica has not replayed it yet
    r.ageMs = 3_600_000;
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(set.status()[0]!.state).toBe('IN_ROTATION');
    expect(set.status()[0]!.lagMs).toBeLessThan(1000);
    await set.close();
  });

  it('does not wait on a replica further behind than the time left', async () => {
    const a = fakeReplica('slow');
    a.replay = 50n;
    a.ageMs = 300;
    const set = createReplicaSet({
      replicas: [a.connection],
      primary: primaryAt(() => 100n),
      maxLagMs: 1000,
      log: silentLogger,
      checkMs: 60_000,
    });
    await set.start();
    expect(set.status()[0]).toMatchObject({ state: 'IN_ROTATION', lagMs: 300 });
    const started = Date.now();
    expect(await set.replayed(100n, Date.now() + 50)).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(20);
    expect(a.asked).toBe(0);
    await set.close();
  });

  it('takes out a replica that is down, lagging beyond the bound or promoted, and puts it back when well', async () => {
    const r = fakeReplica('r');
    const set = createReplicaSet({
      replicas: [r.connection],
      primary: primaryAt(() => 100n),
      maxLagMs: 1000,
      log: silentLogger,
      checkMs: 10,
    });
    r.replay = 100n;
    await set.start();
    const stateAfter = async (change: () => void) => {
      change();
      await new Promise((resolve) => setTimeout(resolve, 40));
      return set.status()[0]!.state;
    };
    expect(await stateAfter(() => (r.down = true))).toBe('DOWN');
    expect(set.any()).toBeUndefined();
    expect(
      await stateAfter(() => {
        r.down = false;
        r.replay = 10n;
        r.ageMs = 5000;
      }),
    ).toBe('LAGGING');
    expect(
      await stateAfter(() => {
        r.replay = 100n;
        r.ageMs = 0;
      }),
    ).toBe('IN_ROTATION');
    expect(set.any()).toBe(0);
    expect(await stateAfter(() => (r.standby = false))).toBe('PROMOTED');
    await set.close();
  });
});

describe('read router', () => {
  const context = (after?: boolean) => ({
    caller: { kind: 'system' } as never,
    ...(after && { consistency: { after: { tx: 1n, pos: 1n } } }),
  });

  it('sends a read with a token to a replica that replayed its commit mark, else to the primary', async () => {
    const tracker = createConsistencyTracker(['p']);
    tracker.advance('p', { tx: 1n, pos: 5n });
    const r = fakeReplica('r');
    r.replay = 100n;
    const replicas = createReplicaSet({
      replicas: [r.connection],
      primary: primaryAt(() => 100n),
      maxLagMs: 1000,
      log: silentLogger,
      checkMs: 60_000,
    });
    await replicas.start();
    const route = (lsn: bigint | undefined) => createReadRouter({ replicas, marks: marksOf(lsn), tracker, waitMs: 20 });
    expect(await route(90n)(['p'], context(true))).toEqual({ replica: 0 });
    expect(await route(120n)(['p'], context(true))).toEqual({ primary: 'not replayed' });
    expect(await route(undefined)(['p'], context(true))).toEqual({ primary: 'no commit mark' });
    expect(await route(undefined)(['p'], context(false))).toEqual({ replica: 0 });
    await replicas.close();
  });

  it('asks for the mark of the position the token needs, not of the newest one', async () => {
    const tracker = createConsistencyTracker(['p']);
    tracker.advance('p', { tx: 1n, pos: 10n }); // past the token
    const r = fakeReplica('r');
    r.replay = 100n;
    const replicas = createReplicaSet({
      replicas: [r.connection],
      primary: primaryAt(() => 100n),
      maxLagMs: 1000,
      log: silentLogger,
      checkMs: 60_000,
    });
    await replicas.start();
    const asked: bigint[] = [];
    const marks: CommitMarks = {
      ...marksOf(90n),
      lsnFor: async (_p, position) => {
        asked.push(position.pos);
        return 90n;
      },
    };
    const route = createReadRouter({ replicas, marks, tracker, waitMs: 20 });
    expect(await route(['p'], { caller: { kind: 'system' } as never, consistency: { after: { tx: 1n, pos: 4n } } })).toEqual({
      replica: 0,
    });
    expect(asked).toEqual([4n]);
    await replicas.close();
  });

  it('answers from the primary when the replica fails under the read, and takes the replica out', async () => {
    const tracker = createConsistencyTracker(['p']);
    const r = fakeReplica('r');
    const replicas = createReplicaSet({
      replicas: [r.connection],
      primary: primaryAt(() => 0n),
      maxLagMs: 1000,
      log: silentLogger,
      checkMs: 60_000,
    });
    await replicas.start();
    const definition: QueryDefinition = {
      projections: ['p'],
      create:
        ({ db }) =>
        async () =>
          (await db.query<{ replay?: string; lsn?: string }>('select', []))[0],
    };
    const seen: unknown[] = [];
    const handler = routedQuery(
      definition,
      { db: primaryAt(() => 7n), store: {} as never },
      {
        route: createReadRouter({ replicas, marks: marksOf(0n), tracker, waitMs: 20 }),
        replicas,
        observe: (read) => seen.push(read),
      },
    );
    r.down = true;
    expect(await handler({}, context(false))).toEqual({ lsn: '0/7' });
    expect(seen).toEqual([{ onReplica: false, withToken: false, fallback: 'replica failed' }]);
    expect(replicas.status()[0]!.state).toBe('DOWN');
    await replicas.close();
  });
});

describe('commit marks', () => {
  /** A database whose projections table and notifications the test drives. */
  function fakeDatabase() {
    const state = {
      checkpoints: [] as { name: string; tx: string; pos: string; lsn: string }[],
      reads: 0,
      notify: (_payload: string) => {},
    };
    const database = {
      rows: async () => {
        state.reads++;
        return state.checkpoints;
      },
      listen: async (_channel: string, onNotify: (payload: string) => void) => {
        state.notify = onNotify;
        return async () => {};
      },
    } as unknown as Database;
    return { state, database };
  }
  const at = (pos: bigint) => ({ tx: 1n, pos });

  it('knows each checkpoint at start, takes newer marks as they are notified, and waits for one on its way', async () => {
    const { state, database } = fakeDatabase();
    state.checkpoints = [{ name: 'p', tx: '1', pos: '5', lsn: '0/100' }];
    const marks = createCommitMarks(database, () => {});
    await marks.start();
    expect(await marks.lsnFor('p', at(5n), Date.now() + 50)).toBe(0x100n);
    const waiting = marks.lsnFor('p', at(8n), Date.now() + 1000);
    state.notify('p 1 9 0/200');
    expect(await waiting).toBe(0x200n);
    state.notify('p 1 7 0/180'); // late: an older position never replaces a newer one
    expect(await marks.lsnFor('p', at(9n), Date.now() + 50)).toBe(0x200n);
  });

  it('reads the checkpoints when a mark does not come within a few milliseconds, and gives up at the deadline', async () => {
    const { state, database } = fakeDatabase();
    const marks = createCommitMarks(database, () => {});
    await marks.start();
    state.checkpoints = [{ name: 'p', tx: '1', pos: '12', lsn: '0/300' }]; // a mark that was never sent
    const reads = state.reads;
    expect(await marks.lsnFor('p', at(10n), Date.now() + 1000)).toBe(0x300n);
    expect(state.reads).toBe(reads + 1);
    expect(await marks.lsnFor('p', at(20n), Date.now() + 30)).toBeUndefined();
  });
});

import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConcurrencyConflictError } from '../../src/core/errors.ts';
import { DuplicateCommandError, type NewEvent } from '../../src/core/event-store.ts';
import { decodeToken, encodeToken, START } from '../../src/core/position.ts';
import { createAppendNotifier, EVENTS_CHANNEL } from '../../src/infra/event-store/append-notifier.ts';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/infra/event-store/postgres-event-store.ts';
import { createTestDatabase, driverName, settle, type TestDatabase } from '../support/db.ts';
import { describeIf, needsPostgres } from '../support/skip.ts';

const ev = (n: number): NewEvent => ({ type: 'Happened', data: { n } });
const opts = (expectedVersion: 'any' | 'no_stream' | number) => ({ streamType: 'Test', expectedVersion });

describe(`event store on ${driverName}`, () => {
  let t: TestDatabase;
  let store: PostgresEventStore;
  beforeAll(async () => {
    t = await createTestDatabase();
    store = createPostgresEventStore({ db: t.database });
  });
  beforeEach(() => t.reset());
  afterAll(() => t.close());

  describe('expected version', () => {
    it('no_stream appends version 1 and refuses a second time', async () => {
      expect((await store.append('s', [ev(1)], opts('no_stream'))).version).toBe(1);
      const error = await store.append('s', [ev(2)], opts('no_stream')).catch((e) => e);
      expect(error).toBeInstanceOf(ConcurrencyConflictError);
      expect(error.actualVersion).toBe(1);
    });

    it('an exact version appends only when the stream is at exactly it, behind or ahead', async () => {
      await store.append('s', [ev(1), ev(2)], opts('no_stream'));
      expect((await store.append('s', [ev(3)], opts(2))).version).toBe(3);
      for (const stale of [2, 5]) {
        const error = await store.append('s', [ev(9)], opts(stale)).catch((e) => e);
        expect(error).toBeInstanceOf(ConcurrencyConflictError);
        expect(error.actualVersion).toBe(3);
      }
      const { version, events } = await store.readStream('s');
      expect(version).toBe(3);
      expect(events.map((e) => [e.version, (e.data as { n: number }).n])).toEqual([
        [1, 1],
        [2, 2],
        [3, 3],
      ]);
    });

    it('any appends after whatever is there', async () => {
      expect((await store.append('s', [ev(1)], opts('any'))).version).toBe(1);
      expect((await store.append('s', [ev(2), ev(3)], opts('any'))).version).toBe(3);
    });

    it('50 concurrent appends at the same expected version: one wins, 49 conflict, versions contiguous', async () => {
      await store.append('s', [ev(0)], opts('no_stream'));
      const results = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => store.append('s', [ev(i), ev(i)], opts(1))));
      const ok = results.filter((r) => r.status === 'fulfilled');
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(ok).toHaveLength(1);
      expect(failed).toHaveLength(49);
      for (const f of failed) expect(f.reason).toBeInstanceOf(ConcurrencyConflictError);
      const { events } = await store.readStream('s');
      expect(events.map((e) => e.version)).toEqual([1, 2, 3]);
    });

    it('concurrent appends with any all land, versions contiguous', async () => {
      await Promise.all(Array.from({ length: 20 }, (_, i) => store.append('s', [ev(i)], opts('any'))));
      const { events } = await store.readStream('s');
      expect(events.map((e) => e.version)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    });
  });

  describe('one-event appends that arrive together share a statement', () => {
    it('each keeps its own expected version: the right ones land, the wrong ones conflict with the actual version', async () => {
      await store.append('has-2', [ev(1), ev(2)], opts('no_stream'));
      await store.append('has-1', [ev(1)], opts('no_stream'));
      const attempts: [string, 'any' | 'no_stream' | number][] = [
        ['new-a', 'no_stream'],
        ['has-2', 2], // right
        ['has-1', 'no_stream'], // wrong: exists
        ['new-b', 'any'],
        ['has-1', 3], // wrong: ahead (a second append to has-1 in this tick runs alone)
        ['new-c', 4], // wrong: no such stream
        ['new-d', 'no_stream'],
      ];
      const results = await Promise.allSettled(attempts.map(([id, expected], i) => store.append(id, [ev(10 + i)], opts(expected))));
      const outcome = results.map((r) => (r.status === 'fulfilled' ? r.value.version : `conflict@${r.reason.actualVersion}`));
      expect(outcome).toEqual([1, 3, 'conflict@1', 1, 'conflict@1', 'conflict@0', 1]);
      expect(results.map((r) => (r.status === 'rejected' ? r.reason.expectedVersion : null))).toEqual([
        null,
        null,
        'no_stream',
        null,
        3,
        4,
        null,
      ]);
      // Those that landed in the shared statement share its transaction, in stream order (so that two
      // statements sharing streams lock them in the same order).
      const landed = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      expect(new Set(landed.map((r) => r.position.tx)).size).toBe(1);
      const byPosition = [...landed].sort((a, b) => (a.position.pos < b.position.pos ? -1 : 1)).map((r) => r.streamId);
      expect(byPosition).toEqual([...byPosition].sort());
      expect((await store.readStream('has-2')).events.map((e) => (e.data as { n: number }).n)).toEqual([1, 2, 11]);
      expect((await store.readStream('new-c')).version).toBe(0);
    });

    it('any in a shared statement appends after whatever is there', async () => {
      await store.append('a', [ev(1), ev(2)], opts('no_stream'));
      const [x, y] = await Promise.all([store.append('a', [ev(3)], opts('any')), store.append('b', [ev(1)], opts('any'))]);
      expect([x.version, y.version]).toEqual([3, 1]);
    });

    it('an event that cannot be serialised fails only its own append', async () => {
      const results = await Promise.allSettled([
        store.append('ok-1', [ev(1)], opts('no_stream')),
        store.append('unserialisable', [{ type: 'Happened', data: { n: 10n } }], opts('no_stream')),
        store.append('ok-2', [ev(2)], opts('no_stream')),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(TypeError);
    });

    it('a connection lost under the shared statement fails every append of it, and none is tried again', async () => {
      // The statement went through, but its answer never came back: the outcome is unknown to the
      // callers, so a retry could append twice.
      const lost = Object.assign(new Error('write CONNECTION_CLOSED'), { code: 'CONNECTION_CLOSED' });
      const flaky = createPostgresEventStore({
        db: {
          rows: (query) => t.database.rows(query),
          async query<T>(text: string, params: readonly unknown[]) {
            const rows = await t.database.query<T>(text, params);
            if (text.includes('jsonb_to_recordset')) throw lost;
            return rows;
          },
        },
      });
      const results = await Promise.allSettled(['x', 'y', 'z'].map((id) => flaky.append(id, [ev(1)], opts('any'))));
      expect(results.map((r) => (r.status === 'rejected' ? r.reason : r.value))).toEqual([lost, lost, lost]);
      for (const id of ['x', 'y', 'z']) expect((await store.readStream(id)).version).toBe(1);
    });

    it('an append the database refuses fails alone: the others of its statement still land', async () => {
      const results = await Promise.allSettled([
        store.append('fine-1', [ev(1)], opts('no_stream')),
        // PostgreSQL's jsonb refuses \u0000, which JSON.stringify writes for a NUL character.
        store.append('bad', [{ type: 'Happened', data: { text: 'nul \u0000 here' } }], opts('no_stream')),
        store.append('fine-2', [ev(2)], opts('no_stream')),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect((await store.readStream('bad')).version).toBe(0);
      expect((await store.readStream('fine-2')).version).toBe(1);
    });
  });

  it('records a command with its events and refuses the same command id again, appending nothing', async () => {
    const command = { commandId: 'cmd-1', inputHash: 'h' };
    const first = await store.append('s', [ev(1)], { ...opts('no_stream'), command });
    expect(await store.findCommand('cmd-1')).toEqual({
      commandId: 'cmd-1',
      inputHash: 'h',
      streamId: 's',
      version: 1,
      position: first.position,
    });
    const error = await store.append('t', [ev(2)], { ...opts('no_stream'), command }).catch((e) => e);
    expect(error).toBeInstanceOf(DuplicateCommandError);
    expect((await store.readStream('t')).version).toBe(0);
    await settle(t.database);
    expect(await store.readAll(START, 100)).toHaveLength(1);
  });

  it('a command that appends several events records the last one, and its result is that one', async () => {
    await store.append('s', [ev(0)], opts('no_stream'));
    const command = { commandId: 'cmd-many', inputHash: 'h' };
    const result = await store.append('s', [ev(1), ev(2), ev(3)], { ...opts(1), command });
    expect(result.version).toBe(4);
    expect(await store.findCommand('cmd-many')).toEqual({
      commandId: 'cmd-many',
      inputHash: 'h',
      streamId: 's',
      version: 4,
      position: result.position,
    });
    const { events } = await store.readStream('s');
    expect(events.map((e) => [e.version, (e.data as { n: number }).n])).toEqual([
      [1, 0],
      [2, 1],
      [3, 2],
      [4, 3],
    ]);
    expect(events.at(-1)!.position).toEqual(result.position);
  });

  it("appends inside a caller's transaction, and a rollback takes the events and the command with it", async () => {
    const command = { commandId: 'cmd-tx', inputHash: 'h' };
    const inTx = (work: (txStore: PostgresEventStore) => Promise<unknown>) =>
      t.database.transaction((tx) => work(createPostgresEventStore({ db: tx })));
    await expect(
      inTx(async (txStore) => {
        await txStore.append('s', [ev(1), ev(2)], { ...opts('no_stream'), command });
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect((await store.readStream('s')).version).toBe(0);
    expect(await store.findCommand('cmd-tx')).toBeNull();
    await inTx((txStore) => txStore.append('s', [ev(1)], { ...opts('no_stream'), command }));
    await inTx((txStore) => txStore.append('s', [ev(2)], opts(1)));
    expect((await store.readStream('s')).events.map((e) => e.version)).toEqual([1, 2]);
    expect((await store.findCommand('cmd-tx'))?.version).toBe(1);
  });

  it('reads all in global order, in batches, and knows its head', async () => {
    expect(await store.headPosition()).toBeNull();
    for (let i = 0; i < 5; i++) await store.append(`s${i % 2}`, [ev(i)], opts('any'));
    await settle(t.database);
    const first = await store.readAll(START, 3);
    const rest = await store.readAll(first.at(-1)!.position, 100);
    const all = [...first, ...rest];
    expect(all.map((e) => (e.data as { n: number }).n)).toEqual([0, 1, 2, 3, 4]);
    // The head is read below the event horizon, which a transaction of another database that ends meanwhile
    // can lower for one read (docs/decisions/test-runs.md): it is the last event's once that has passed.
    await expect.poll(() => store.headPosition(), { timeout: 10_000 }).toEqual(all.at(-1)!.position);
    expect(all[0]).toMatchObject({ streamId: 's0', streamType: 'Test', type: 'Happened', version: 1, schemaVersion: 1, metadata: {} });
    expect(all[0]!.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('reads where several streams began in one call, as streamStart does one by one', async () => {
    await store.append('a', [ev(1), ev(2)], opts('no_stream'));
    await store.append('b', [ev(3)], { streamType: 'Other', expectedVersion: 'no_stream' });
    const starts = await store.streamStarts(['a', 'b', 'missing', 'a']);
    expect([...starts.keys()].sort()).toEqual(['a', 'b']);
    expect(starts.get('a')).toEqual(await store.streamStart('a'));
    expect(starts.get('b')).toEqual({ streamType: 'Other', position: (await store.streamStart('b'))!.position });
    expect(await store.streamStarts([])).toEqual(new Map());
  });

  it('round-trips a position above 2^53 exactly', async () => {
    const big = 2n ** 53n + 3n;
    await t.database.rows(sql.raw(`alter table events alter column global_position restart with ${big}`));
    const a = await store.append('s', [ev(1)], opts('any'));
    const b = await store.append('s', [ev(2)], opts('any'));
    await settle(t.database);
    expect(a.position.pos).toBe(big);
    expect(b.position.pos).toBe(big + 1n);
    expect(decodeToken(encodeToken(b.position))).toEqual(b.position);
    const after = await store.readAll(a.position, 10);
    expect(after.map((e) => e.position)).toEqual([b.position]);
    expect((await store.readStream('s')).events.map((e) => e.position.pos)).toEqual([big, big + 1n]);
  });

  it('upcasts old event shapes on read and writes the current schema version', async () => {
    await store.append('s', [{ type: 'Renamed', data: { name: 'Ada Lovelace' } }], opts('no_stream'));
    const v2 = createPostgresEventStore({
      db: t.database,
      schemas: {
        Renamed: {
          version: 2,
          upcasters: {
            1: (d: { name: string }) => {
              const [first, ...rest] = d.name.split(' ');
              return { firstName: first, lastName: rest.join(' ') };
            },
          },
        },
      },
    });
    await v2.append('s', [{ type: 'Renamed', data: { firstName: 'Grace', lastName: 'Hopper' } }], opts(1));
    const { events } = await v2.readStream('s');
    expect(events.map((e) => [e.schemaVersion, e.data])).toEqual([
      [2, { firstName: 'Ada', lastName: 'Lovelace' }],
      [2, { firstName: 'Grace', lastName: 'Hopper' }],
    ]);
    const stored = await t.database.rows<{ schema_version: number }>(sql`select schema_version from events order by version`);
    expect(stored.map((r) => r.schema_version)).toEqual([1, 2]);
  });

  it('sends a small wake-up notification after every append, and none for a refused one', async () => {
    const notifying = createPostgresEventStore({ db: t.database, onAppended: createAppendNotifier(t.database).poke });
    const payloads: string[] = [];
    let check = () => {};
    const received = (n: number) =>
      new Promise<void>((resolve) => {
        check = () => payloads.length >= n && resolve();
        check();
      });
    const unlisten = await t.database.listen(EVENTS_CHANNEL, (p) => {
      payloads.push(p);
      check();
    });
    try {
      for (let i = 1; i <= 3; i++) {
        await notifying.append('s', [ev(i), ev(i)], opts('any'));
        await received(i);
        expect(payloads).toHaveLength(i);
      }
      await expect(notifying.append('s', [ev(4)], opts(1))).rejects.toThrow(ConcurrencyConflictError);
      await new Promise((r) => setTimeout(r, 100));
      expect(payloads).toHaveLength(3);
      expect(Buffer.byteLength(payloads.join(''))).toBeLessThan(100);
      // A burst of appends is covered by fewer notifications, the last sent after the last commit.
      await Promise.all(Array.from({ length: 20 }, (_, i) => notifying.append(`b${i}`, [ev(i)], opts('no_stream'))));
      await received(4);
      expect(payloads.length).toBeLessThanOrEqual(3 + 20);
    } finally {
      await unlisten();
    }
  });

  it('a rolled-back append never stalls read-all', async () => {
    await store.append('s', [ev(0)], opts('any'));
    await t.database
      .transaction(async (tx) => {
        await createPostgresEventStore({ db: tx }).append('s', [ev(1)], opts('any'));
        throw new Error('roll back');
      })
      .catch(() => {});
    await store.append('s', [ev(2)], opts('any'));
    await settle(t.database);
    const all = await store.readAll(START, 100);
    expect(all.map((e) => (e.data as { n: number }).n)).toEqual([0, 2]);
  });

  describeIf(needsPostgres('concurrent transactions (PGlite has one connection)'), 'with concurrent transactions', () => {
    type Gate = { open(): void; wait: Promise<void> };
    const gate = (): Gate => {
      let open!: () => void;
      const wait = new Promise<void>((r) => (open = r));
      return { open, wait };
    };

    async function holdAppend(n: number, commit: boolean) {
      const appended = gate();
      const release = gate();
      const done = t.database
        .transaction(async (tx) => {
          await createPostgresEventStore({ db: tx }).append('slow', [ev(n)], opts('any'));
          appended.open();
          await release.wait;
          if (!commit) throw new Error('roll back');
        })
        .catch((e: Error) => {
          if (commit) throw e;
        });
      await appended.wait;
      return {
        finish: async () => {
          release.open();
          return done;
        },
      };
    }

    it('an append that took its position first but commits last is invisible until it commits, then read in order', async () => {
      await store.append('fast', [ev(0)], opts('any'));
      await settle(t.database);
      const checkpoint = (await store.readAll(START, 100)).at(-1)!.position;
      const slow = await holdAppend(1, true);
      const fast = await store.append('fast', [ev(2)], opts('any'));
      const [slowRow] = await t.database.rows<{ pos: string }>(
        sql`select max(global_position)::text as pos from events where stream_id = 'slow'`,
      );
      expect(slowRow?.pos).toBeNull(); // not committed, so not even visible as a row
      // The fast one has committed, but reading it now would let the slow one land behind the checkpoint.
      expect(await store.readAll(checkpoint, 100)).toEqual([]);
      await slow.finish();
      await settle(t.database);
      const after = await store.readAll(checkpoint, 100);
      expect(after.map((e) => (e.data as { n: number }).n)).toEqual([1, 2]);
      expect(after[0]!.position.pos < fast.position.pos).toBe(true);
    });

    it('a rolled-back concurrent append releases read-all as soon as it ends', async () => {
      await store.append('fast', [ev(0)], opts('any'));
      await settle(t.database);
      const slow = await holdAppend(1, false);
      await store.append('fast', [ev(2)], opts('any'));
      expect((await store.readAll(START, 100)).map((e) => (e.data as { n: number }).n)).toEqual([0]);
      await slow.finish();
      await settle(t.database);
      expect((await store.readAll(START, 100)).map((e) => (e.data as { n: number }).n)).toEqual([0, 2]);
    });
  });
});

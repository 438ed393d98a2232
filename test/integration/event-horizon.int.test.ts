// The event horizon (docs/decisions/event-horizon.md): readers wait for Converge's own appends in flight
// and for nothing else. A transaction open in another database, or in this one without appending, holds
// no projection and no read-your-writes wait back; one that wrote something else first cannot append;
// an append that runs long is named in the projection status.
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SYSTEM_CALLER } from '../../src/core/caller.ts';
import { START } from '../../src/core/position.ts';
import { createPostgresEventStore } from '../../src/infra/event-store/postgres-event-store.ts';
import type { Services } from '../../src/services.ts';
import { createTestDatabase, driverName, TEST_DATABASE_URL, type TestDatabase } from '../support/db.ts';
import { createOrder, startOrderServices } from '../support/services.ts';
import { describeIf, needsPostgres } from '../support/skip.ts';

const ev = (n: number) => ({ type: 'Happened', data: { n } });
const opts = (expectedVersion: 'any' | 'no_stream' | number) => ({ expectedVersion, streamType: 'Test' });

describe(`the event horizon on ${driverName}`, () => {
  let t: TestDatabase;
  let services: Services | undefined;
  beforeAll(async () => {
    t = await createTestDatabase({ poolMax: 20 });
  });
  beforeEach(() => t.reset());
  afterEach(async () => {
    await services?.stop();
    services = undefined;
  });
  afterAll(() => t.close());

  it('a transaction that wrote something else first may not append (CV002), and appends nothing', async () => {
    await t.database.rows(sql`create table if not exists horizon_scratch (n int)`);
    await expect(
      t.database.transaction(async (tx) => {
        await tx.rows(sql`insert into horizon_scratch values (1)`);
        await createPostgresEventStore({ db: tx }).append('s', [ev(1)], opts('no_stream'));
      }),
    ).rejects.toMatchObject({ message: expect.stringMatching(/events must be the first thing a transaction writes/) });
    const [row] = await t.database.rows<{ n: number }>(sql`select count(*)::int as n from events`);
    expect(row!.n).toBe(0);
    // Appending first, then more appends in the same transaction: allowed.
    await t.database.transaction(async (tx) => {
      const store = createPostgresEventStore({ db: tx });
      await store.append('s', [ev(1)], opts('no_stream'));
      await store.append('s', [ev(2)], opts(1));
    });
    expect((await createPostgresEventStore({ db: t.database }).readAll(START, 10)).map((e) => e.version)).toEqual([1, 2]);
  });

  describeIf(needsPostgres('other sessions (PGlite has one connection)'), 'with other sessions', () => {
    /** A transaction with a transaction id, left open on a connection of its own until `end` is called. */
    async function openTransaction(url: string, write?: string) {
      const client = postgres(url, { max: 1, onnotice: () => {} });
      let end!: () => void;
      const ended = new Promise<void>((resolve) => (end = resolve));
      let opened!: () => void;
      const isOpen = new Promise<void>((resolve) => (opened = resolve));
      const done = client
        .begin(async (tx) => {
          await tx.unsafe(write ?? 'select pg_current_xact_id()');
          opened();
          await ended;
        })
        .catch(() => {});
      await isOpen;
      return {
        async close() {
          end();
          await done;
          await client.end();
        },
      };
    }

    it('a transaction open in another database holds no read-your-writes wait back', async () => {
      services = await startOrderServices(t.database);
      const foreign = await openTransaction(TEST_DATABASE_URL!); // the database test files are created from
      try {
        for (let i = 0; i < 5; i++) {
          const created = await createOrder(services);
          const started = performance.now();
          const { stale } = await services.tracker.waitFor(created.position, ['orders', 'customer_summaries'], 20_000);
          expect(stale).toBe(false);
          // Well under the seconds the foreign transaction stays open: it did not hold the wait.
          expect(performance.now() - started).toBeLessThan(2000);
        }
        const [row] = await t.database.rows<{ n: number }>(sql`select count(*)::int as n from orders`);
        expect(row!.n).toBe(5);
      } finally {
        await foreign.close();
      }
    });

    it('a transaction in this database that writes elsewhere holds nothing back either', async () => {
      await t.database.rows(sql`create table if not exists horizon_scratch (n int)`);
      services = await startOrderServices(t.database);
      const url = (t.options as { url: string }).url;
      const writer = await openTransaction(url, 'insert into horizon_scratch values (1)');
      try {
        const created = await createOrder(services);
        const { stale } = await services.tracker.waitFor(created.position, ['orders'], 3000);
        expect(stale).toBe(false);
      } finally {
        await writer.close();
      }
    });

    it('an append in flight holds readers back until it ends, and the status names it after a second', async () => {
      const store = createPostgresEventStore({ db: t.database });
      await store.append('fast', [ev(0)], opts('any'));
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      let appended!: () => void;
      const isAppended = new Promise<void>((resolve) => (appended = resolve));
      const slow = t.database.transaction(async (tx) => {
        await createPostgresEventStore({ db: tx }).append('slow', [ev(1)], opts('any'));
        appended();
        await released;
      });
      await isAppended;
      try {
        await store.append('fast', [ev(2)], opts('any'));
        // The slow append took its transaction id first: nothing after it is visible while it is open.
        expect((await store.readAll(START, 10)).map((e) => (e.data as { n: number }).n)).toEqual([0]);
        await new Promise((r) => setTimeout(r, 1100));
        services = await startOrderServices(t.database, { runProjections: false });
        const [status] = await services.admin.status(SYSTEM_CALLER);
        expect(status!.heldBackBy).toMatchObject({ backendPid: expect.any(Number), seconds: expect.any(Number) });
        expect(status!.heldBackBy!.seconds).toBeGreaterThanOrEqual(1);
      } finally {
        release();
        await slow;
      }
      expect((await store.readAll(START, 10)).map((e) => (e.data as { n: number }).n)).toEqual([0, 1, 2]);
      const [after] = await services!.admin.status(SYSTEM_CALLER);
      expect(after!.heldBackBy).toBeUndefined();
    });
  });
});

describe(`rebuild requests on ${driverName}`, () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(() => t.close());

  it('a rebuild paused before its shadow tables exist is still a rebuild when resumed', async () => {
    // No runner here, so nothing prepares the shadow tables between the three calls.
    const services = await startOrderServices(t.database, { runProjections: false });
    try {
      await services.admin.rebuild('orders', SYSTEM_CALLER);
      expect((await services.admin.pause('orders', SYSTEM_CALLER)).state).toBe('PAUSED');
      const resumed = await services.admin.resume('orders', SYSTEM_CALLER);
      expect(resumed.state).toBe('REBUILDING');
    } finally {
      await services.stop();
    }
    // And a runner then carries it out to the swap.
    const running = await startOrderServices(t.database);
    try {
      const created = await createOrder(running);
      expect((await running.tracker.waitFor(created.position, ['orders'], 20_000)).stale).toBe(false);
      const deadline = Date.now() + 20_000;
      for (;;) {
        const status = (await running.admin.status(SYSTEM_CALLER)).find((s) => s.name === 'orders')!;
        if (status.state === 'RUNNING' && status.rebuildPosition === null) break;
        if (Date.now() > deadline) throw new Error(`rebuild did not finish: ${status.state}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      await running.stop();
    }
  });
});

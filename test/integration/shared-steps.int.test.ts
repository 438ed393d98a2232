// Live steps of projections at one checkpoint, asked for together, share one batch read and one write
// (src/infra/projections/shared-steps.ts); each projection keeps its own outcome.
import { sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/core/messages.ts';
import type { Position } from '../../src/core/position.ts';
import type { ProcessorKind, StepResult } from '../../src/core/projection.ts';
import type { SqlProjection, StepContext } from '../../src/core/sql-projection.ts';
import { createPostgresEventStore } from '../../src/infra/event-store/postgres-event-store.ts';
import { loadProjectionRecords } from '../../src/infra/projections/projection-records.ts';
import { createProjectionStorage } from '../../src/infra/projections/projection-storage.ts';
import { orderEventSchemas } from '../../src/orders/events.ts';
import type { Services } from '../../src/services.ts';
import { createTestDatabase, driverName, settle, type TestDatabase, testDataKeys } from '../support/db.ts';
import { createOrder, startOrderServices } from '../support/services.ts';
import { type Sent, watchStatements } from '../support/watch.ts';

const TABLES = ['shared_a', 'shared_b', 'shared_c'];
const LOOKED_UP = ['shared_lookup_a', 'shared_lookup_c'];

/** Records each event it sees in its own table; the primary key turns a repeat into a failure. */
const recording = (table: string, kind?: ProcessorKind): SqlProjection => ({
  name: table,
  kind,
  handles: new Set(['OrderCreated']),
  tables: [table],
  apply(events, step) {
    step.insert(
      table,
      events.map((e) => ({ pos: e.position.pos.toString() })),
    );
  },
});

const applyAll = (projection: SqlProjection) => async (events: StoredEvent[], step: StepContext) => {
  const handled = events.filter((e) => projection.handles.has(e.type));
  if (handled.length > 0) await projection.apply(handled, step);
};

describe(`shared live steps on ${driverName}`, () => {
  let t: TestDatabase;
  let writer: Services | undefined;
  beforeAll(async () => {
    t = await createTestDatabase();
    for (const table of TABLES) {
      await t.database.rows(sql.raw(`create table if not exists ${table} (pos bigint primary key)`));
      await t.database.rows(sql`select converge_tenant_table(${table})`);
    }
    for (const table of LOOKED_UP) {
      await t.database.rows(sql.raw(`create table if not exists ${table} (k text primary key, v text not null)`));
      await t.database.rows(sql`select converge_tenant_table(${table})`);
    }
  });
  beforeEach(async () => {
    await t.reset();
    writer = await startOrderServices(t.database, { runProjections: false });
    for (let i = 0; i < 3; i++) await createOrder(writer);
    await settle(t.database);
  });
  afterEach(async () => {
    await writer?.stop();
    writer = undefined;
  });
  afterAll(() => t.close());

  /** A storage of `projections` over a database whose statements are recorded; every projection loaded. */
  const storageOf = async (projections: SqlProjection[], options: Parameters<typeof watchStatements>[1] = {}) => {
    const watched = watchStatements(t.database, options);
    const store = createPostgresEventStore({ db: watched.database, schemas: orderEventSchemas, personal: testDataKeys(t.database) });
    const storage = createProjectionStorage(watched.database, store, projections);
    for (const p of projections) await storage.load(p.name);
    watched.sent.length = 0;
    return { storage, sent: watched.sent };
  };

  const count = async (table: string) => (await t.database.rows<{ n: number }>(sql.raw(`select count(*)::int as n from ${table}`)))[0]!.n;
  const positionOf = async (name: string) => (await loadProjectionRecords(t.database, [name]))[0]!.position;
  const batchReads = (sent: Sent[]) => sent.filter((s) => s.via === 'batches').map((s) => JSON.parse(s.params[0] as string) as string[]);
  const moves = (sent: Sent[]) => sent.filter((s) => s.text.includes('converge_advance_projection'));
  /** The names each statement that moves checkpoints moves (its text names each one's parameter). */
  const namesMoved = (s: Sent) => s.params.filter((p): p is string => typeof p === 'string' && TABLES.includes(p));

  /** Steps each projection from its checkpoint, all asked for in the same turn. */
  const stepTogether = (
    storage: Awaited<ReturnType<typeof storageOf>>['storage'],
    projections: SqlProjection[],
    from: Position | null = null,
  ) => Promise.allSettled(projections.map((p) => storage.step(p.name, 'live', from, 100, applyAll(p))));

  it('projections at one checkpoint read one batch and commit their writes and moves in one statement', async () => {
    const [a, b, c] = TABLES.map((table) => recording(table));
    const { storage, sent } = await storageOf([a!, b!, c!]);
    const results = await stepTogether(storage, [a!, b!, c!]);
    const values = results.map((r) => (r.status === 'fulfilled' ? r.value : r.reason));
    expect(values.every((v: StepResult) => v.kind === 'applied' && v.read === 3)).toBe(true);
    expect(batchReads(sent)).toEqual([TABLES]);
    expect(moves(sent).map(namesMoved)).toEqual([TABLES]);
    for (const table of TABLES) {
      expect(await count(table)).toBe(3);
      expect(await positionOf(table)).toEqual((values[0] as Extract<StepResult, { kind: 'applied' }>).to);
    }
  });

  it('each projection gets its own lookups from the shared read, beside one that has none', async () => {
    // Lookups of one name over two tables, each row saying which table it came from.
    const streams = await t.database.rows<{ id: string }>(sql`select stream_id as id from events where type = 'OrderCreated'`);
    for (const table of LOOKED_UP) {
      for (const { id } of streams) await t.database.rows(sql`insert into ${sql.identifier(table)} (k, v) values (${id}, ${table})`);
    }
    const seen = new Map<string, string[]>();
    const looking = (table: string, lookedUp: string): SqlProjection => ({
      ...recording(table),
      lookups: { rows: { table: lookedUp, key: 'k', columns: 'v', keys: [{ streamId: true }] } },
      async apply(events, step) {
        seen.set(
          table,
          events.map((e) => String(step.found.rows?.get(e.streamId)?.v)),
        );
        await recording(table).apply(events, step);
      },
    });
    const projections = [looking('shared_a', 'shared_lookup_a'), recording('shared_b'), looking('shared_c', 'shared_lookup_c')];
    const { storage, sent } = await storageOf(projections);
    // Asked for in another order than the names': the statement's members, lookups and writes follow the names.
    const results = await stepTogether(storage, [...projections].reverse());
    expect(results.every((r) => r.status === 'fulfilled' && r.value.kind === 'applied')).toBe(true);
    expect(batchReads(sent)).toEqual([TABLES]);
    expect(sent.filter((s) => s.via === 'lookups')).toEqual([]);
    expect(seen).toEqual(
      new Map([
        ['shared_a', ['shared_lookup_a', 'shared_lookup_a', 'shared_lookup_a']],
        ['shared_c', ['shared_lookup_c', 'shared_lookup_c', 'shared_lookup_c']],
      ]),
    );
  });

  it('steps from different checkpoints, and a process manager, go on their own', async () => {
    const a = recording('shared_a');
    const b = recording('shared_b');
    const pm = recording('shared_c', 'PROCESS_MANAGER');
    const { storage, sent } = await storageOf([a, b, pm]);
    const first = await storage.step('shared_a', 'live', null, 1, applyAll(a));
    expect(first).toMatchObject({ kind: 'applied', read: 1 });
    sent.length = 0;
    const after = first.kind === 'applied' ? first.to : null;
    await Promise.all([
      storage.step('shared_a', 'live', after, 100, applyAll(a)),
      storage.step('shared_b', 'live', null, 100, applyAll(b)),
      storage.step('shared_c', 'live', null, 100, applyAll(pm)),
    ]);
    expect(batchReads(sent).sort()).toEqual([['shared_a'], ['shared_b'], ['shared_c']]);
    expect(moves(sent).map(namesMoved).sort()).toEqual([['shared_a'], ['shared_b'], ['shared_c']]);
    for (const table of TABLES) expect(await count(table)).toBe(3);
  });

  it('a projection whose apply throws fails alone: the others commit their step', async () => {
    const a = recording('shared_a');
    const broken: SqlProjection = {
      ...recording('shared_b'),
      apply() {
        throw new Error('cannot project this');
      },
    };
    const { storage, sent } = await storageOf([a, broken]);
    const [ok, failed] = await stepTogether(storage, [a, broken]);
    expect(ok).toMatchObject({ status: 'fulfilled', value: { kind: 'applied', read: 3 } });
    expect(failed).toMatchObject({ status: 'rejected', reason: { message: 'cannot project this' } });
    expect(moves(sent).map(namesMoved)).toEqual([['shared_a']]);
    expect(await count('shared_a')).toBe(3);
    expect(await positionOf('shared_b')).toBeNull();
  });

  it('writes the database refuses fail only their projection: the others are written on their own', async () => {
    const a = recording('shared_a');
    const refused: SqlProjection = {
      ...recording('shared_b'),
      apply(_events, step) {
        step.insert('shared_b', [{ pos: 'not a number' }]);
      },
    };
    const c = recording('shared_c');
    const { storage, sent } = await storageOf([a, refused, c]);
    const [ok, failed, alsoOk] = await stepTogether(storage, [a, refused, c]);
    expect(ok).toMatchObject({ status: 'fulfilled', value: { kind: 'applied', read: 3 } });
    expect(alsoOk).toMatchObject({ status: 'fulfilled', value: { kind: 'applied', read: 3 } });
    expect(failed?.status).toBe('rejected');
    expect(String((failed as PromiseRejectedResult).reason)).toMatch(/invalid input syntax for type bigint/);
    // Together first (refused as a whole), then each on its own.
    expect(moves(sent).map(namesMoved)).toEqual([TABLES, ['shared_a'], ['shared_b'], ['shared_c']]);
    expect([await count('shared_a'), await count('shared_b'), await count('shared_c')]).toEqual([3, 0, 3]);
    expect(await positionOf('shared_b')).toBeNull();
  });

  it('a checkpoint moved between the read and the write makes only that projection stale', async () => {
    const [a, b] = [recording('shared_a'), recording('shared_b')];
    let moved = false;
    const { storage, sent } = await storageOf([a, b], {
      // Right after the shared read: another runner (or an admin) moves b's checkpoint.
      async after(s) {
        if (s.via !== 'batches' || moved) return;
        moved = true;
        await t.database.rows(sql`update projections set position = 1 where name = 'shared_b'`);
      },
    });
    const [ok, stale] = await stepTogether(storage, [a, b]);
    expect(ok).toMatchObject({ status: 'fulfilled', value: { kind: 'applied', read: 3 } });
    expect(stale).toEqual({ status: 'fulfilled', value: { kind: 'stale' } });
    expect(moves(sent).map(namesMoved)).toEqual([['shared_a', 'shared_b'], ['shared_a'], ['shared_b']]);
    expect([await count('shared_a'), await count('shared_b')]).toEqual([3, 0]);
  });

  it('a projection no longer at the checkpoint when the batch is read is stale, and reads nothing twice', async () => {
    const [a, b] = [recording('shared_a'), recording('shared_b')];
    const { storage, sent } = await storageOf([a, b]);
    await t.database.rows(sql`update projections set state = 'PAUSED' where name = 'shared_b'`);
    const [ok, stale] = await stepTogether(storage, [a, b]);
    expect(ok).toMatchObject({ status: 'fulfilled', value: { kind: 'applied', read: 3 } });
    expect(stale).toEqual({ status: 'fulfilled', value: { kind: 'stale' } });
    expect(batchReads(sent)).toEqual([['shared_a', 'shared_b']]);
    expect(moves(sent).map(namesMoved)).toEqual([['shared_a']]);
  });
});

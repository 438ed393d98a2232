// Two processes run the projections on one PostgreSQL: only the lock holder applies, and when it is
// killed (-9) the other takes over within 5 s with nothing missing or doubled; killed in the middle of the
// fulfilment process's commands, the other replays them with each effect once. PostgreSQL only: PGlite
// is one process.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Services } from '../../src/services.ts';
import { decodeToken } from '../../src/core/position.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { sql } from 'drizzle-orm';
import { SYSTEM_CALLER } from '../../src/core/caller.ts';
import { parseCommand } from '../../src/core/command-input.ts';
import { productAggregate } from '../../src/inventory/product-aggregate.ts';
import { PROCESSOR_NAMES } from '../support/processors.ts';
import { addItem, createOrder, expectOrdersMatchStore, startServices } from '../support/services.ts';
import { describeIf, needsPostgres } from '../support/skip.ts';

const WORKER = fileURLToPath(new URL('../support/projection-worker.ts', import.meta.url));
const ALL = PROCESSOR_NAMES;

type Worker = { child: ChildProcess; held: string[]; history: string[][]; exited: Promise<void> };

function startWorker(url: string): Worker {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER], {
    env: { ...process.env, DATABASE_URL: url },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const worker: Worker = {
    child,
    held: [],
    history: [],
    exited: new Promise((resolve) => child.once('exit', () => resolve())),
  };
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const { held } = JSON.parse(line) as { held: string[] };
    worker.held = held;
    worker.history.push(held);
  });
  return worker;
}

async function until(condition: () => boolean, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describeIf(needsPostgres('worker processes sharing one database'), 'projection takeover across processes', () => {
  let t: TestDatabase;
  let api: Services;
  const workers: Worker[] = [];
  beforeAll(async () => {
    t = await createTestDatabase();
    api = await startServices(t.database, { runProjections: false });
  });
  afterAll(async () => {
    for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    await api.stop();
    await t.close();
  });

  it('only the lock holder runs a projection; kill -9 it and the other takes over within 5 s', async () => {
    const url = (t.options as { url: string }).url;
    const a = startWorker(url);
    workers.push(a);
    await until(() => a.held.length === ALL.length, 20_000, 'the first process to take every projection');
    const b = startWorker(url);
    workers.push(b);
    await until(() => b.history.length > 0, 20_000, 'the second process to start');

    let token = '';
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const o = await createOrder(api, { customerId: `c-${i % 3}` });
      ids.push(o.streamId);
      token = o.consistencyToken;
    }
    expect(await api.tracker.waitFor(decodeToken(token), ALL, 10_000)).toMatchObject({ stale: false });
    expect(b.history.every((held) => held.length === 0)).toBe(true);

    // Under load: writes go on while the holder dies.
    let writing = true;
    const writer = (async () => {
      for (let i = 0; writing; i++) token = (await addItem(api, ids[i % ids.length]!, `p-${i}`)).consistencyToken;
    })();
    await new Promise((r) => setTimeout(r, 200));
    const killedAt = Date.now();
    a.child.kill('SIGKILL');
    await a.exited;
    await until(() => b.held.length === ALL.length, 5000, 'the second process to take over');
    await new Promise((r) => setTimeout(r, 200));
    writing = false;
    await writer;
    expect(await api.tracker.waitFor(decodeToken(token), ALL, 5000)).toMatchObject({ stale: false });
    expect(Date.now() - killedAt).toBeLessThan(5000 + 1000);
    await expectOrdersMatchStore(t.database, api.store);
    b.child.kill('SIGTERM');
    await b.exited;
  });

  it("killed in the middle of the fulfilment process's commands, the other process replays them: each effect once", async () => {
    const url = (t.options as { url: string }).url;
    const a = startWorker(url);
    workers.push(a);
    await until(() => a.held.includes('fulfilment'), 20_000, 'the first process to take the fulfilment process');
    const b = startWorker(url);
    workers.push(b);
    await until(() => b.history.length > 0, 20_000, 'the second process to start');
    await api.commands.dispatch(
      parseCommand(productAggregate.inputs, 'CreateProduct', { sku: 'kill-9', name: 'x', onHand: 1000 }, { caller: SYSTEM_CALLER }),
    );
    // A backlog, so that the process is busy with its commands when it dies.
    await api.admin.pause('fulfilment', SYSTEM_CALLER);
    let token = '';
    for (let i = 0; i < 150; i++) {
      token = (await createOrder(api, { customerId: `k-${i % 5}`, items: [{ productId: 'kill-9', quantity: 2, unitPrice: '1.00' }] }))
        .consistencyToken;
    }
    const outcomes = async () =>
      (await t.database.rows<{ n: number }>(sql`select count(*)::int as n from events where type = 'FulfilmentReserved'`))[0]!.n;
    const before = await outcomes();
    await api.admin.resume('fulfilment', SYSTEM_CALLER);
    for (let i = 0; i < 2000 && (await outcomes()) < before + 20; i++) await new Promise((r) => setTimeout(r, 5));
    a.child.kill('SIGKILL');
    await a.exited;
    expect(await outcomes()).toBeLessThan(before + 150); // it died with work left
    await until(() => b.held.includes('fulfilment'), 5000, 'the second process to take over');
    expect(await api.tracker.waitFor(decodeToken(token), ['products', 'order_fulfilments'], 30_000)).toMatchObject({ stale: false });
    const counts = await t.database.rows<{ type: string; n: number }>(sql`select type, count(*)::int as n from events
      where type in ('StockReserved', 'FulfilmentReserved') and (type = 'FulfilmentReserved' or stream_id = 'kill-9') group by type order by type`);
    expect(counts).toEqual([
      { type: 'FulfilmentReserved', n: before + 150 },
      { type: 'StockReserved', n: 150 },
    ]);
    const consistency = { after: decodeToken(token), stale: false };
    expect(await api.queries.execute('product', { sku: 'kill-9' }, { caller: SYSTEM_CALLER, consistency })).toMatchObject({
      onHand: 1000,
      reserved: 300,
    });
    b.child.kill('SIGTERM');
    await b.exited;
  });
});

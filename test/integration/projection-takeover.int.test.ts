// Two processes run the projections on one PostgreSQL: only the lock holder applies, and when it is
// killed (-9) the other takes over within 5 s with nothing missing or doubled. PostgreSQL only: PGlite
// is one process.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/services.ts';
import { decodeToken } from '../../src/core/position.ts';
import { createTestDatabase, onPostgres, type TestDatabase } from '../support/db.ts';
import { addItem, createOrder, expectOrdersMatchStore, startServices } from '../support/services.ts';

const WORKER = fileURLToPath(new URL('../support/projection-worker.ts', import.meta.url));
const ALL = ['orders', 'customer_summaries'];

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

describe.skipIf(!onPostgres)('projection takeover across processes (PostgreSQL)', () => {
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
    await until(() => a.held.length === 2, 20_000, 'the first process to take both projections');
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
    expect(await api.tracker.waitFor(decodeToken(token), ALL, 10_000)).toEqual({ stale: false });
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
    await until(() => b.held.length === 2, 5000, 'the second process to take over');
    await new Promise((r) => setTimeout(r, 200));
    writing = false;
    await writer;
    expect(await api.tracker.waitFor(decodeToken(token), ALL, 5000)).toEqual({ stale: false });
    expect(Date.now() - killedAt).toBeLessThan(5000 + 1000);
    await expectOrdersMatchStore(t.database, api.store);
    b.child.kill('SIGTERM');
    await b.exited;
  });
});

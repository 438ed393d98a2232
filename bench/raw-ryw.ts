// The physical limit of read-your-writes on this machine, with postgres.js alone and nothing of Converge
// (the `raw read-your-writes` line of `npm run bench -- projections`):
//   writer     one statement (so one transaction) inserts an event row and NOTIFYs its position
//   projector  a child process LISTENing: woken, it reads the notified rows, upserts their read rows and
//              its checkpoint and NOTIFYs the positions done, all in one transaction; one batch at a time,
//              what arrives meanwhile is the next batch
//   reader     waits for the notification naming its write, then selects the read row
// The projector reads the rows it was told of, not `position > checkpoint`: NOTIFY is delivered at
// commit, so no gap check (Converge's event horizon) is needed. That is the least work possible.
// The child is this file run with RAW_PROJECTOR_URL set; on stdin closing it prints its step timings.
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import postgres from 'postgres';
import { cpuMsOf, databaseCpuMs, processCpuMs } from './cpu.ts';

const EVENTS_CHANNEL = 'raw_ryw_events';
const PROJECTED_CHANNEL = 'raw_ryw_projected';
const CHILD_ENV = 'RAW_PROJECTOR_URL';
const LINES_PER_ORDER = 10;
const quiet = { onnotice: () => {} };

export type RawRywResult = {
  /** Write committed -> notification of its projection received -> read row selected. */
  samples: number[];
  waits: number[];
  writeMs: number[];
  errors: number;
  seconds: number;
  background: number;
  backgroundDropped: number;
  /** The projector's mean ms per batch of each step, and its mean batch size. */
  projector: Record<string, number>;
  /** CPU per write (background and foreground) of the writer (this process) and the projector together, and of the database's backends. */
  cpuMsPerCommand: number | null;
  dbCpuMsPerCommand: number | null;
};

async function createTables(sql: postgres.Sql): Promise<void> {
  await sql`drop table if exists raw_ryw_events, raw_ryw_orders, raw_ryw_checkpoint`;
  await sql`create table raw_ryw_events (position bigserial primary key, stream_id text not null, version int not null,
    type text not null, data jsonb not null, unique (stream_id, version))`;
  await sql`create table raw_ryw_orders (id text primary key, customer_id text not null, item_count int not null,
    total numeric not null, version int not null)`;
  await sql`create table raw_ryw_checkpoint (name text primary key, position bigint not null)`;
  await sql`insert into raw_ryw_checkpoint values ('orders', 0)`;
}

/**
 * Inserts one event and notifies its position; resolves once committed. `in-transaction`: one statement,
 * so the NOTIFY commits with the row (the wording). PostgreSQL serialises the commits of
 * transactions that notified, their WAL flush included, so concurrent writers queue there.
 * `after-commit`: the NOTIFY as a statement of its own once the insert committed (what Converge does).
 */
async function write(sql: postgres.Sql, notify: RawNotify, streamId: string, version: number, n: number): Promise<number> {
  const data = { customerId: `customer-${n % 1000}`, quantity: 1 + (n % 3), unitPrice: '9.99' };
  const type = version === 1 ? 'OrderCreated' : 'OrderItemAdded';
  if (notify === 'in-transaction') {
    const [row] = await sql<{ position: string }[]>`
      with e as (
        insert into raw_ryw_events (stream_id, version, type, data) values (${streamId}, ${version}, ${type}, ${sql.json(data)})
        returning position)
      select position, pg_notify(${EVENTS_CHANNEL}, position::text) from e`;
    return Number(row!.position);
  }
  const [row] = await sql<{ position: string }[]>`
    insert into raw_ryw_events (stream_id, version, type, data) values (${streamId}, ${version}, ${type}, ${sql.json(data)})
    returning position`;
  await sql`select pg_notify(${EVENTS_CHANNEL}, ${row!.position})`;
  return Number(row!.position);
}

export type RawNotify = 'in-transaction' | 'after-commit';

// ------------------------------------------------------------------------------------------------
// The projector (child process)

async function project(url: string): Promise<void> {
  const sql = postgres(url, { max: 2, ...quiet });
  const totals: Record<string, number> = { batches: 0, events: 0, read: 0, apply: 0, write: 0, checkpoint: 0, notifyCommit: 0 };
  const pending: number[] = [];
  let running: Promise<void> | undefined;
  const step = async (ids: number[]) => {
    const t: number[] = [performance.now()];
    await sql.begin(async (tx) => {
      const events = await tx<
        { position: string; stream_id: string; version: number; data: { customerId: string; quantity: number; unitPrice: string } }[]
      >`
        select position, stream_id, version, data from raw_ryw_events where position = any(${ids}::bigint[]) order by position`;
      t.push(performance.now());
      const rows = new Map<string, { id: string; customer_id: string; item_count: number; total: number; version: number }>();
      for (const e of events) {
        const row = rows.get(e.stream_id) ?? { id: e.stream_id, customer_id: e.data.customerId, item_count: 0, total: 0, version: 0 };
        row.item_count += e.data.quantity;
        row.total += e.data.quantity * Number(e.data.unitPrice);
        row.version = Math.max(row.version, e.version);
        rows.set(e.stream_id, row);
      }
      t.push(performance.now());
      await tx`
        insert into raw_ryw_orders ${tx([...rows.values()], 'id', 'customer_id', 'item_count', 'total', 'version')}
        on conflict (id) do update set item_count = raw_ryw_orders.item_count + excluded.item_count,
          total = raw_ryw_orders.total + excluded.total, version = greatest(raw_ryw_orders.version, excluded.version)`;
      t.push(performance.now());
      await tx`update raw_ryw_checkpoint set position = greatest(position, ${Math.max(...ids)}) where name = 'orders'`;
      t.push(performance.now());
      // A payload holds at most 8000 bytes.
      for (let i = 0; i < ids.length; i += 500) await tx`select pg_notify(${PROJECTED_CHANNEL}, ${ids.slice(i, i + 500).join(',')})`;
    });
    t.push(performance.now());
    totals.batches!++;
    totals.events! += ids.length;
    ['read', 'apply', 'write', 'checkpoint', 'notifyCommit'].forEach((name, i) => {
      totals[name]! += t[i + 1]! - t[i]!;
    });
  };
  const drain = async () => {
    while (pending.length > 0) await step(pending.splice(0));
    running = undefined;
  };
  await sql.listen(EVENTS_CHANNEL, (payload) => {
    pending.push(Number(payload));
    running ??= drain();
  });
  process.stdout.write('ready\n');
  await new Promise<void>((resolve) => createInterface({ input: process.stdin }).once('close', resolve));
  await running;
  const batches = totals.batches || 1;
  const { batches: _, events, ...steps } = totals;
  const perBatch = Object.fromEntries(Object.entries(steps).map(([k, v]) => [`${k}Ms`, Number((v / batches).toFixed(3))]));
  process.stdout.write(
    `${JSON.stringify({ batches: totals.batches, eventsPerBatch: Number((events! / batches).toFixed(2)), ...perBatch })}\n`,
  );
  await sql.end({ timeout: 5 });
}

// ------------------------------------------------------------------------------------------------
// Writer and reader (the bench process)

function startProjector(url: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
    env: { ...process.env, [CHILD_ENV]: url },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const queue: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  lines.on('line', (line) => (waiting.shift() ?? ((l: string) => queue.push(l)))(line));
  const next = () => new Promise<string>((resolve) => (queue.length > 0 ? resolve(queue.shift()!) : waiting.push(resolve)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stopped: Promise<Record<string, number>> | undefined;
  return {
    /** The projector's CPU time so far, in ms. */
    cpuMs: () => (child.pid === undefined ? null : processCpuMs(child.pid)),
    ready: Promise.race([
      next(),
      exited.then(() => {
        throw new Error('the raw projector exited before it was ready');
      }),
    ]),
    /** Idempotent: ends its stdin, and resolves with its step timings once it has exited. */
    stop(): Promise<Record<string, number>> {
      stopped ??= (async () => {
        child.stdin!.end();
        const line = await Promise.race([next(), exited.then(() => '{}')]);
        await exited;
        return JSON.parse(line) as Record<string, number>;
      })();
      return stopped;
    },
  };
}

/** Same shape as projections.ts's Converge measurement: open-loop background, one foreground write every intervalMs. */
export async function measureRawReadYourWrites(options: {
  url: string;
  poolMax: number;
  rate: number;
  intervalMs: number;
  warmupS: number;
  durationS: number;
  notify: RawNotify;
}): Promise<RawRywResult> {
  const { url, rate, intervalMs, notify } = options;
  // The background's pool, and a connection of the foreground's own, so that it never queues behind
  // the background's writes in postgres.js (Converge's foreground shares its pool, but its appends of
  // one event-loop turn share one statement).
  const sql = postgres(url, { max: options.poolMax, ...quiet });
  const foreground = postgres(url, { max: 1, ...quiet });
  const listener = postgres(url, { max: 1, ...quiet });
  await createTables(sql);
  const projector = startProjector(url);
  await projector.ready;
  // Positions projected with nobody waiting yet (the projection beat the writer's own reply).
  const early = new Set<number>();
  const waiters = new Map<number, () => void>();
  await listener.listen(PROJECTED_CHANNEL, (payload) => {
    for (const id of payload.split(',').map(Number)) {
      const resolve = waiters.get(id);
      if (resolve) {
        waiters.delete(id);
        resolve();
      } else early.add(id);
    }
  });
  const projected = (position: number) =>
    early.delete(position) ? Promise.resolve() : new Promise<void>((resolve) => waiters.set(position, resolve));

  let stopping = false;
  let completed = 0;
  let dropped = 0;
  let backgroundErrors = 0;
  let inFlight = 0;
  let issued = 0;
  const open: { id: string; version: number }[] = [];
  const background = (async () => {
    const start = performance.now();
    while (!stopping) {
      for (const due = Math.floor(((performance.now() - start) / 1000) * rate); issued < due; issued++) {
        if (inFlight >= 1000) {
          dropped++;
          continue;
        }
        const order = issued % 4 === 0 || open.length === 0 ? undefined : open[Math.floor(Math.random() * open.length)]!;
        const stream = order ?? { id: `bg-${Date.now().toString(36)}-${issued}`, version: 0 };
        if (!order) {
          open.push(stream);
          if (open.length > 200) open.shift();
        }
        if (++stream.version >= LINES_PER_ORDER) open.splice(open.indexOf(stream), 1);
        inFlight++;
        write(sql, notify, stream.id, stream.version, issued)
          .then(
            () => completed++,
            (error: unknown) => {
              if (++backgroundErrors === 1) process.stderr.write(`raw background first error: ${(error as Error).stack}\n`);
            },
          )
          .finally(() => inFlight--);
      }
      await sleep(1);
    }
  })();

  let n = 0;
  let order = { id: '', version: LINES_PER_ORDER };
  const phase = async (durationS: number) => {
    const samples: number[] = [];
    const waits: number[] = [];
    const writeMs: number[] = [];
    let errors = 0;
    const start = performance.now();
    for (let next = start; performance.now() < start + durationS * 1000; ) {
      try {
        if (order.version >= LINES_PER_ORDER) order = { id: `fg-${Date.now().toString(36)}-${n}`, version: 0 };
        order.version++;
        const c0 = performance.now();
        const position = await write(foreground, notify, order.id, order.version, n++);
        const t0 = performance.now();
        await projected(position);
        const t1 = performance.now();
        const [row] = await foreground<
          { version: number }[]
        >`select id, customer_id, item_count, total, version from raw_ryw_orders where id = ${order.id}`;
        const t2 = performance.now();
        if (row?.version !== order.version) throw new Error(`read row at version ${row?.version}, wrote ${order.version}`);
        writeMs.push(t0 - c0);
        waits.push(t1 - t0);
        samples.push(t2 - t0);
      } catch (error) {
        if (++errors === 1) process.stderr.write(`raw read-your-writes first error: ${(error as Error).stack}\n`);
        order = { id: '', version: LINES_PER_ORDER };
      }
      next += intervalMs;
      const now = performance.now();
      if (next > now) await sleep(next - now);
      else next = now;
    }
    return { samples, waits, writeMs, errors, seconds: (performance.now() - start) / 1000 };
  };
  const stopBackground = async () => {
    stopping = true;
    await background;
    while (inFlight > 0) await sleep(5);
  };
  try {
    if (options.warmupS > 0) await phase(options.warmupS);
    const dbName = decodeURIComponent(new URL(url).pathname.slice(1));
    const cpu = { own: process.cpuUsage(), projector: projector.cpuMs(), db: databaseCpuMs(dbName) };
    const before = { at: performance.now(), completed, dropped, backgroundErrors };
    const measured = await phase(options.durationS);
    const seconds = (performance.now() - before.at) / 1000;
    const [projectorAfter, dbAfter] = [projector.cpuMs(), databaseCpuMs(dbName)];
    const commands = completed - before.completed + measured.samples.length;
    const rates = {
      background: (completed - before.completed) / seconds,
      backgroundDropped: dropped - before.dropped,
      errors: measured.errors + backgroundErrors - before.backgroundErrors,
      cpuMsPerCommand:
        cpu.projector !== null && projectorAfter !== null
          ? (cpuMsOf(process.cpuUsage(cpu.own)) + projectorAfter - cpu.projector) / commands
          : null,
      dbCpuMsPerCommand: cpu.db !== null && dbAfter !== null ? (dbAfter - cpu.db) / commands : null,
    };
    await stopBackground();
    return { ...measured, ...rates, projector: await projector.stop() };
  } finally {
    await stopBackground();
    await projector.stop().catch(() => {});
    await listener.end({ timeout: 5 });
    await foreground.end({ timeout: 5 });
    await sql`drop table if exists raw_ryw_events, raw_ryw_orders, raw_ryw_checkpoint`;
    await sql.end({ timeout: 5 });
  }
}

if (process.env[CHILD_ENV]) {
  project(process.env[CHILD_ENV]!).catch((error: unknown) => {
    process.stderr.write(`raw projector failed: ${(error as Error).stack}\n`);
    process.exit(1);
  });
}

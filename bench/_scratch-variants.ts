// TEMPORARY analysis script (to be deleted): converge append SQL variants + wait-event sampling.
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { openDatabase } from '../src/infra/db/client.ts';
import { migrate } from '../src/infra/db/migrate.ts';
import { createPostgresEventStore } from '../src/infra/event-store/postgres-event-store.ts';
import { orderEventSchemas } from '../src/orders/events.ts';
import { checkpoint, runLoad } from './lib.ts';

const url = 'postgres://postgres@127.0.0.1:5432/converge_bench';
const concurrency = Number(process.env.C ?? 32);
const durationS = Number(process.env.D ?? 3);
const poolMax = Number(process.env.POOL_MAX ?? 10);
const only = process.env.ONLY?.split(',');
const database = await openDatabase({ url, poolMax });
await migrate(database);
const store = createPostgresEventStore({ db: database, schemas: orderEventSchemas });
const client = postgres(url, { max: poolMax, onnotice: () => {} });
const monitor = postgres(url, { max: 1, onnotice: () => {} });
const data = (id: string) => ({ orderId: id, customerId: 'customer-42', currency: 'EUR', createdAt: '2024-01-01T00:00:00.000Z' });

const fullSql = (notify: boolean, cmd: boolean) => `
  with head as (select coalesce(max(version), 0)::int as v from events where stream_id = $1),
  ins as (
    insert into events (stream_id, stream_type, version, type, schema_version, data, metadata)
    select $1, $2, head.v + e.n::int, e.value->>'type', (e.value->>'schemaVersion')::int, e.value->'data', e.value->'metadata'
    from head, jsonb_array_elements($3::text::jsonb) with ordinality as e(value, n)
    where $4::int is null or head.v = $4::int
    order by e.n
    returning version, transaction_id, global_position
  ), last as (select version, transaction_id, global_position from ins order by global_position desc limit 1)
  ${cmd ? `, cmd as (
    insert into commands (command_id, input_hash, stream_id, version, transaction_id, global_position)
    select $5::text, $6::text, $1, version, transaction_id, global_position from last where $5::text is not null)` : ''}
  select head.v as previous, last.version, last.transaction_id::text as tx, last.global_position::text as pos
    ${notify ? `, case when last.version is not null then pg_notify('converge_events', '') end as notified` : ''}
  from head left join last on true`;

const payload = (id: string) => JSON.stringify([{ type: 'OrderCreated', schemaVersion: 1, data: data(id), metadata: {} }]);
let n = 0;
const variants: Record<string, () => (w: number, s: number) => Promise<void>> = {
  store: () => async () => {
    const id = `x${n++}`;
    await store.append(`order-${id}`, [{ type: 'OrderCreated', data: data(id) }], { streamType: 'Order', expectedVersion: 'no_stream' });
  },
  'cte-full': () => async () => {
    const id = `x${n++}`;
    await client.unsafe(fullSql(true, true), [`order-${id}`, 'Order', payload(id), 0, null, null], { prepare: true });
  },
  'cte-no-notify': () => async () => {
    const id = `x${n++}`;
    await client.unsafe(fullSql(false, true), [`order-${id}`, 'Order', payload(id), 0, null, null], { prepare: true });
  },
  'cte-no-notify-no-cmd': () => async () => {
    const id = `x${n++}`;
    await client.unsafe(fullSql(false, false), [`order-${id}`, 'Order', payload(id), 0], { prepare: true });
  },
  'plain-insert': () => async () => {
    const id = `x${n++}`;
    await client`insert into events (stream_id, stream_type, version, type, data) values (${`order-${id}`}, 'Order', 1, 'OrderCreated', ${client.json(data(id))})`;
  },
  'plain-insert+notify': () => async () => {
    const id = `x${n++}`;
    await client`with i as (insert into events (stream_id, stream_type, version, type, data) values (${`order-${id}`}, 'Order', 1, 'OrderCreated', ${client.json(data(id))}) returning 1) select pg_notify('converge_events', '') from i`;
  },
};

for (const [name, make] of Object.entries(variants)) {
  if (only && !only.includes(name)) continue;
  await client`truncate events, commands restart identity`;
  await checkpoint(url);
  await runLoad({ concurrency, durationS: 1, op: make() });
  const waits = new Map<string, number>();
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const rows = await monitor`select coalesce(wait_event_type,'CPU') || ':' || coalesce(wait_event,'-') || ':' || state as w from pg_stat_activity where datname = 'converge_bench' and pid <> pg_backend_pid() and state <> 'idle'`;
      for (const r of rows) waits.set(r.w as string, (waits.get(r.w as string) ?? 0) + 1);
      await new Promise((res) => setTimeout(res, 5));
    }
  })();
  const r = await runLoad({ concurrency, durationS, op: make() });
  sampling = false;
  await sampler;
  const top = [...waits.entries()].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([k, v]) => `${k}=${v}`).join(' ');
  console.log(`${name.padEnd(22)} c=${concurrency} pool=${poolMax} ${r.opsPerSec} ops/s p50 ${r.p50ms} p99 ${r.p99ms} err ${r.errors} | ${top}`);
}
await Promise.all([client.end(), monitor.end(), database.close()]);

// TEMPORARY analysis script (to be deleted): command-order with and without the pg_notify in append,
// plus statements per command from pg_stat_database.
import { sql, type SQL } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { createCommandBus } from '../src/core/command-bus.ts';
import type { CommandResult } from '../src/core/command-handler.ts';
import { openDatabase, toQuery, type Executor } from '../src/infra/db/client.ts';
import { migrate } from '../src/infra/db/migrate.ts';
import { createPostgresEventStore } from '../src/infra/event-store/postgres-event-store.ts';
import { parseOrderCommand } from '../src/orders/commands/parse.ts';
import type { OrderCommand } from '../src/orders/decider.ts';
import { orderEventSchemas } from '../src/orders/events.ts';
import { registerOrderCommands } from '../src/orders/module.ts';
import { checkpoint, runLoad, type Op } from './lib.ts';

const url = 'postgres://postgres@127.0.0.1:5432/converge_bench';
const concurrency = Number(process.env.C ?? 8);
const durationS = Number(process.env.D ?? 3);
const database = await openDatabase({ url, poolMax: 10 });
await migrate(database);
const client = postgres(url, { max: 10, onnotice: () => {}, connection: { TimeZone: 'UTC' } });
drizzle({ client }); // same serializer setup as openDatabase
const stripped: Executor = {
  async rows<T>(query: SQL) {
    const { sql: text, params } = toQuery(query);
    const noNotify = text.replace(/case when last\.version is not null then pg_notify\(\$\d+, ''\) end/, 'null');
    return (await client.unsafe(noNotify, params as never[], { prepare: true })) as unknown as T[];
  },
};
const input = {
  customerId: 'customer-42',
  items: [{ productId: 'sku-0', quantity: 1, unitPrice: '9.99' }],
  shippingAddress: { line1: '1 Main St', city: 'Berlin', postalCode: '10115', country: 'DE' },
};
const stats = async () => {
  const [r] = await client`select xact_commit::int8 as x from pg_stat_database where datname = current_database()`;
  return Number(r!.x);
};

for (const [name, db] of [['as-is', database], ['no-notify', stripped]] as const) {
  const store = createPostgresEventStore({ db, schemas: orderEventSchemas });
  const bus = createCommandBus<OrderCommand, CommandResult>();
  registerOrderCommands(bus, { store });
  const makeOp = (): Op => {
    const progress = new Map<number, { orderId: string; step: number }>();
    return async (w) => {
      const cur = progress.get(w);
      if (!cur || cur.step === 3) {
        const created = await bus.dispatch(parseOrderCommand('CreateOrder', input));
        progress.set(w, { orderId: created.streamId, step: 0 });
        return;
      }
      cur.step++;
      await bus.dispatch(parseOrderCommand('AddOrderItem', { orderId: cur.orderId, productId: `sku-${cur.step}`, quantity: cur.step, unitPrice: '9.99' }));
    };
  };
  await database.rows(sql`truncate events, commands restart identity`);
  await checkpoint(url);
  await runLoad({ concurrency, durationS: 1, op: makeOp() });
  const before = await stats();
  const r = await runLoad({ concurrency, durationS, op: makeOp() });
  await new Promise((res) => setTimeout(res, 600)); // pg_stat_database is updated lazily
  const after = await stats();
  console.log(`${name.padEnd(10)} c=${concurrency} ${r.opsPerSec} ops/s p50 ${r.p50ms} p99 ${r.p99ms} err ${r.errors} | ~${((after - before) / r.ops).toFixed(2)} transactions/command`);
}
await Promise.all([client.end(), database.close()]);

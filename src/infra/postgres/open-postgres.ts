// PostgreSQL through postgres.js: the main pool, the two small pools projections read on, the listener,
// and lock sessions.
import { drizzle } from 'drizzle-orm/postgres-js';
import type { Db, UncountedDatabase } from '../db/database.ts';
import { executorOf, translated } from '../db/executor.ts';
import { dedicatedConnection, mainPool, runOn, sidePool } from './connections.ts';
import { createListener } from './listener.ts';

export async function openPostgres(options: { url: string; poolMax?: number; applicationName?: string }): Promise<UncountedDatabase> {
  const poolMax = options.poolMax ?? 10;
  const connection = { application_name: options.applicationName ?? 'converge', TimeZone: 'UTC' };
  const client = mainPool(options.url, connection, poolMax);
  const db = drizzle({ client }) as unknown as Db;
  const listener = createListener(options.url, connection);
  // Sessions that refuse writes, for projections' lookups; planned per call, since read models grow from
  // empty faster than autovacuum analyses them (docs/decisions/lookup-plans.md).
  const lookupsClient = sidePool(options.url, connection, 'lookups', {
    default_transaction_read_only: true,
    plan_cache_mode: 'force_custom_plan',
  });
  // Batch reads keep one plan per connection, made to read through indexes and renewed every minute
  // (docs/decisions/batch-read-plans.md). No type lookup on connect: array columns come back as text.
  const batchesClient = sidePool(
    options.url,
    connection,
    'batches',
    { plan_cache_mode: 'force_generic_plan', enable_seqscan: 'off', enable_bitmapscan: 'off' },
    { max_lifetime: 60, fetch_types: false },
  );
  return {
    kind: 'postgres',
    poolMax,
    db,
    ...executorOf(runOn(client)),
    // postgres.js's own transactions (BEGIN, then COMMIT or ROLLBACK, on one pooled connection). Not a
    // reserved connection with BEGIN sent by hand: postgres.js 3.4.9 puts a dead reserved connection
    // back among the open ones.
    transaction: (work) => translated(client.begin((tx) => work(executorOf(runOn(tx)))) as Promise<Awaited<ReturnType<typeof work>>>),
    projectionLookups: executorOf(runOn(lookupsClient)),
    projectionBatches: executorOf(runOn(batchesClient)),
    listen: (channel, onNotify, onConnect) => translated(listener.listen(channel, onNotify, onConnect)),
    async reserveSession() {
      // A client of one connection, so that its death is seen (a pool would hide it).
      let resolveClosed!: () => void;
      const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
      const session = dedicatedConnection(options.url, connection, 'lock', { onclose: () => resolveClosed() });
      return {
        closed,
        ...executorOf(runOn(session)),
        release: async () => {
          await session.end({ timeout: 5 });
          resolveClosed();
        },
      };
    },
    async close() {
      await listener.close();
      await Promise.all([lookupsClient.end({ timeout: 5 }), batchesClient.end({ timeout: 5 }), client.end({ timeout: 5 })]);
    },
  };
}

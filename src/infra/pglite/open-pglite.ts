// PGlite: PostgreSQL in WebAssembly, in this process, with one connection that everything shares.
import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { drizzle } from 'drizzle-orm/pglite';
import type { Db, UncountedDatabase } from '../db/database.ts';
import { executorOf, type Run } from '../db/executor.ts';
import { lockDataDirectory } from './data-dir-lock.ts';

type Queryable = Pick<PGlite, 'query'>;

const runOn =
  (client: Queryable): Run =>
  async <T>(text: string, params: readonly unknown[]) =>
    (await client.query<T>(text, params as unknown[])).rows;

export async function openPglite(dir: string): Promise<UncountedDatabase> {
  const inMemory = dir.startsWith('memory://');
  let unlock = () => {};
  if (!inMemory) {
    mkdirSync(dir, { recursive: true });
    unlock = lockDataDirectory(dir);
  }
  let client: PGlite;
  try {
    client = await PGlite.create(dir, { extensions: { pg_trgm } });
  } catch (error) {
    unlock();
    throw error;
  }
  await client.exec(`SET TIME ZONE 'UTC'`);
  const db = drizzle({ client }) as unknown as Db;
  const executor = executorOf(runOn(client));
  let closed = false;
  return {
    kind: 'pglite',
    poolMax: 1,
    db,
    ...executor,
    transaction: (work) => client.transaction((tx) => work(executorOf(runOn(tx)))),
    // Each lookup in a read-only transaction of its own (no round trip to pay here), planned as on PostgreSQL.
    projectionLookups: executorOf(<T>(text: string, params: readonly unknown[]) =>
      client.transaction(async (tx) => {
        await tx.exec('set transaction read only; set local plan_cache_mode = force_custom_plan');
        return runOn(tx)<T>(text, params);
      }),
    ),
    // PGlite keeps no plans between statements: nothing to set up.
    projectionBatches: executor,
    async listen(channel, onNotify, onConnect) {
      const unlisten = await client.listen(channel, onNotify);
      onConnect?.();
      return unlisten;
    },
    async reserveSession() {
      // One connection: its session is shared by everything in this process, which is also the only
      // process that can open the data directory.
      return { ...executor, release: async () => {}, closed: new Promise<void>(() => {}) };
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        await client.close();
      } finally {
        unlock();
      }
    },
  };
}

// postgres.js 3.4.9 as Converge carries it (patches/postgres+3.4.9.patch, docs/decisions/postgres-restarts.md):
// a connection that dies under a transaction leaves no error thrown from a timer and no connection that
// fails its next queries. (Its reconnect backoff is checked by test/e2e/restarts.e2e.test.ts, on a
// server that really restarts.) When a postgres.js release passes this without the patch, the patch can go.
import type postgres from 'postgres';
import { afterEach, expect, it } from 'vitest';
import { mainPool } from '../../src/infra/postgres/connections.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { describeIf, needsPostgres } from '../support/skip.ts';

const connection = { application_name: 'converge-driver-test', TimeZone: 'UTC' };

describeIf(needsPostgres('the postgres.js driver'), 'postgres.js through connection loss', () => {
  let t: TestDatabase | undefined;
  const clients: postgres.Sql[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.end({ timeout: 1 })));
    await t?.close();
  });
  const urlOf = (test: TestDatabase) => (test.options as { url: string }).url;

  it('a transaction whose backend is terminated fails with CONNECTION_CLOSED, and the pool answers at once after', async () => {
    t = await createTestDatabase({ migrate: false });
    const sql = mainPool(urlOf(t), connection, 2);
    const admin = mainPool(urlOf(t), connection, 1);
    clients.push(sql, admin);
    for (let i = 0; i < 5; i++) {
      let pid: number | undefined;
      let inSleep!: () => void;
      const sleeping = new Promise<void>((resolve) => (inSleep = resolve));
      const transaction = sql.begin(async (tx) => {
        const rows = await tx<{ pid: number }[]>`select pg_backend_pid() as pid`;
        pid = rows[0]!.pid;
        const sleep = tx`select pg_sleep(5)`.execute();
        inSleep();
        await sleep;
      });
      await sleeping;
      await admin`select pg_terminate_backend(${pid!})`;
      // Unpatched, its ROLLBACK is written to the closed socket from a timer (an uncaught TypeError),
      // and the connection's next query fails with the old error or never gets its StartupMessage out.
      await expect(transaction).rejects.toMatchObject({ code: 'CONNECTION_CLOSED' });
      expect(await Promise.all([sql`select 1 as one`, sql`select 1 as one`, sql`select 1 as one`])).toHaveLength(3);
    }
  });
});

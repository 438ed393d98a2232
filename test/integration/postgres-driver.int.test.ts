// postgres.js 3.4.9 as Converge carries it (patches/postgres+3.4.9.patch, docs/decisions/postgres-restarts.md):
// a connection that dies under a transaction leaves no error thrown from a timer and no connection that
// fails its next queries, and a statement handed to a connection whose socket has failed but not yet closed
// is settled. (Its reconnect backoff is checked by test/e2e/restarts.e2e.test.ts, on a
// server that really restarts.) When a postgres.js release passes this without the patch, the patch can go.
import { connect, type Socket } from 'node:net';
import postgres from 'postgres';
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

  // A socket that fails (a reset) emits 'error' at once and 'close' only once its handle has closed, later
  // in that turn of the event loop. Meanwhile the pool still counts the connection open (or busy), so a
  // statement that arrives then is written to the destroyed socket. Unpatched, closed() settles nothing
  // after an error, so that statement waits forever; one pipelined behind a statement in flight also stays
  // queued on the connection, whose next connect then waits for it and never serves the pool again.
  for (const state of ['idle', 'busy'] as const) {
    it(`a statement handed to ${state === 'idle' ? 'an idle' : 'a busy'} connection between its socket's error and close fails with CONNECTION_CLOSED`, async () => {
      t = await createTestDatabase({ migrate: false });
      const sockets: Socket[] = [];
      // postgres.js's own socket option: a socket of the test's, so that the test can fail it.
      const options = {
        max: 1,
        onnotice: () => {},
        socket: ({ host, port }: { host: string[]; port: number[] }) =>
          new Promise<Socket>((resolve, reject) => {
            const socket = connect(port[0]!, host[0]!);
            sockets.push(socket);
            socket.once('connect', () => resolve(socket));
            socket.once('error', reject);
          }),
      };
      const sql = postgres(urlOf(t), options as postgres.Options<Record<string, postgres.PostgresType>>);
      clients.push(sql);
      await sql`select 1`;
      const socket = sockets.at(-1)!;
      let late: Promise<string> | undefined;
      // Once every 'error' listener has run (postgres.js's settles what the connection holds), before 'close'.
      socket.once('error', () =>
        queueMicrotask(() => {
          late = sql`select 2`.execute().then(
            () => 'answered',
            (error: { code?: string }) => String(error.code),
          );
        }),
      );
      // Busy: a statement is on the connection (execute() hands it over at once), and `late` queues behind it.
      const inFlight = state === 'busy' ? sql`select pg_sleep(5)`.execute() : undefined;
      inFlight?.catch(() => {});
      const closed = new Promise((resolve) => socket.once('close', resolve));
      socket.destroy(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
      await closed;
      // The next statement needs a new connection: by then `late` has had its answer, if it is to get one.
      expect(await sql`select 3 as n`).toEqual([{ n: 3 }]);
      await expect(Promise.race([late, 'unsettled'])).resolves.toBe('CONNECTION_CLOSED');
      expect(await sql`select 4 as n`).toEqual([{ n: 4 }]);
    });
  }
});

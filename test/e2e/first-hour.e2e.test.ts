// What a newcomer meets in the first hour: each answer a clear one, on a started server (both drivers).
// Malformed requests get 400 with a GraphQL error body; limits give one error; WebSocket refusals say
// why; /metrics can be closed; a browser on /graphql without GraphiQL is told how to turn it on.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { type AddressInfo, connect, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestDatabase, driverName, onPostgres, type TestDatabase } from '../support/db.ts';
import { runMainToExit, startServer } from '../support/processes.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { TEST_SECRET } from '../support/tokens.ts';
import { itIf, needsPostgres } from '../support/skip.ts';

const METRICS_TOKEN = 'metrics-token-of-twenty-chars';

/** A request written by hand, as curl sends `-X POST` with no body: no content-length, no chunking. */
function rawRequest(port: number, head: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(head));
    let text = '';
    socket.on('data', (chunk) => (text += chunk.toString()));
    socket.on('error', reject);
    socket.on('end', () => {
      const [headers = '', ...rest] = text.split('\r\n\r\n');
      let body = rest.join('\r\n\r\n');
      if (/transfer-encoding: chunked/i.test(headers)) body = body.replace(/^[0-9a-f]+\r\n|\r\n[0-9a-f]+\r\n/gi, '').replace(/\r\n$/, '');
      resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(headers)?.[1]), body });
    });
  });
}

describe(`the first hour on ${driverName}`, () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ GRAPHIQL: 'off', JWT_SECRET: TEST_SECRET, METRICS_TOKEN });
  });
  afterAll(() => s.close());
  afterEach(() => vi.restoreAllMocks());

  const post = (body: string, accept = 'application/json') =>
    fetch(s.url, { method: 'POST', headers: { 'content-type': 'application/json', accept }, body });

  it('an empty POST with no content-length answers 400 with a GraphQL error body', async () => {
    const port = Number(new URL(s.origin).port);
    const r = await rawRequest(
      port,
      `POST /graphql HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n`,
    );
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body).errors[0].extensions.code).toBe('BAD_REQUEST');
    // And a chunked body (no content-length either) is read and answered.
    const { mintToken } = await import('../../src/infra/auth/jwt.ts');
    const token = await mintToken(TEST_SECRET, { sub: 'customer-1', roles: ['customer'], expires: '1h' });
    const body = JSON.stringify({ query: '{ __typename }' });
    const chunked = await rawRequest(
      port,
      `POST /graphql HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nauthorization: Bearer ${token}\r\nconnection: close\r\n\r\n` +
        `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`,
    );
    expect(chunked.status).toBe(200);
    expect(JSON.parse(chunked.body)).toEqual({ data: { __typename: 'Query' } });
  });

  it('a body that is not a GraphQL request answers 400, whatever the client accepts', async () => {
    for (const accept of ['application/json', 'application/graphql-response+json']) {
      for (const body of ['{}', '', 'not json', '[]', '{"query": 1}', '{"variables": {}}']) {
        const response = await post(body, accept);
        expect(response.status, `${accept} ${body}`).toBe(400);
        const json = (await response.json()) as { errors: { message: string; extensions: { code: string } }[] };
        expect(json.errors[0]!.extensions.code, body).toBe('BAD_REQUEST');
      }
    }
    // A well-formed request whose query is invalid stays 200 under application/json, as the spec says.
    expect((await post(JSON.stringify({ query: '{ nope }' }))).status).toBe(200);
  });

  it('a query over the directive limit gets one error, not one per directive', async () => {
    const response = await post(JSON.stringify({ query: `{ __typename ${'@skip(if: false) '.repeat(200)}}` }));
    const json = (await response.json()) as { errors: { message: string }[] };
    expect(json.errors).toHaveLength(1);
    expect(json.errors[0]!.message).toMatch(/directives/i);
  });

  it('a bad Money typed into the query gets the argument path in its issues', async () => {
    const { mintToken } = await import('../../src/infra/auth/jwt.ts');
    const token = await mintToken(TEST_SECRET, { sub: 'customer-1', roles: ['customer'], expires: '1h' });
    const r = await s.gql(
      `mutation { createOrder(input: { customerId: "customer-1", shippingAddress: { line1: "1", city: "B", postalCode: "1", country: "DE" },
        items: [{ productId: "a", quantity: 1, unitPrice: "1.00" }, { productId: "b", quantity: 1, unitPrice: "1.234" }] }) { orderId } }`,
      undefined,
      { authorization: `Bearer ${token}` },
    );
    expect(r.errors).toHaveLength(1);
    expect(r.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
    expect(r.errors![0]!.extensions!.issues).toEqual([
      { path: ['input', 'items', 1, 'unitPrice'], message: expect.stringMatching(/2 fraction digits/) },
    ]);
  });

  it('a browser on /graphql with GraphiQL off is told how to turn it on', async () => {
    const response = await fetch(s.url, { headers: { accept: 'text/html,application/xhtml+xml' } });
    expect(response.status).toBe(400);
    expect(await response.text()).toMatch(/GRAPHIQL=on/);
  });

  it('/metrics wants the bearer token when METRICS_TOKEN is set', async () => {
    expect((await fetch(`${s.origin}/metrics`)).status).toBe(401);
    expect((await fetch(`${s.origin}/metrics`, { headers: { authorization: 'Bearer wrong-token-of-twenty-ch' } })).status).toBe(401);
    const scraped = await fetch(`${s.origin}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toMatch(/^# TYPE converge_http_requests_total /m);
  });

  it('a WebSocket refused at connection_init is closed with 4403 and the reason', async () => {
    const closeOf = (connectionParams?: Record<string, unknown>) =>
      new Promise<{ code: number; reason: string }>((resolve) => {
        const client = createClient({ url: s.wsUrl, webSocketImpl: WebSocket, connectionParams, retryAttempts: 0, lazy: true });
        client.on('closed', (event) => {
          const { code, reason } = event as { code: number; reason: string };
          resolve({ code, reason });
        });
        client.subscribe({ query: '{ __typename }' }, { next() {}, error() {}, complete() {} });
      });
    expect(await closeOf()).toEqual({ code: 4403, reason: expect.stringMatching(/^Forbidden: Authentication required/) });
    expect(await closeOf({ authorization: 'Bearer nope' })).toEqual({
      code: 4403,
      reason: expect.stringMatching(/^Forbidden: The token is not valid/),
    });
  });

  it('a WebSocket message over the limit closes with 1009 and prints nothing to stderr', async () => {
    const printed = vi.spyOn(console, 'error');
    const code = await new Promise<number>((resolve) => {
      const socket = new WebSocket(s.wsUrl, 'graphql-transport-ws');
      socket.on('open', () => socket.send('x'.repeat(1024 * 1024 + 10)));
      socket.on('close', (c) => resolve(c));
    });
    expect(code).toBe(1009);
    expect(printed).not.toHaveBeenCalled();
  });

  it('a WebSocket upgrade on another path is refused with 404', async () => {
    const status = await new Promise<number>((resolve) => {
      const socket = new WebSocket(`${s.wsUrl.replace('/graphql', '/elsewhere')}`, 'graphql-transport-ws');
      socket.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
      socket.on('error', () => {});
    });
    expect(status).toBe(404);
  });
});

describe(`starting the server on ${driverName}`, () => {
  const journal = JSON.parse(readFileSync(new URL('../../drizzle/meta/_journal.json', import.meta.url), 'utf8')) as { entries: unknown[] };

  it('says what a first start does, one line each: the data folder, the migrations, the URL', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'converge-first-start-'));
    let env: Record<string, string> = { PGLITE_DIR: join(dir, 'data'), DATABASE_URL: '' };
    let database: TestDatabase | undefined;
    if (onPostgres) {
      database = await createTestDatabase({ migrate: false });
      await database.database.close();
      env = { DATABASE_URL: (database.options as { url: string }).url };
    }
    const server = await startServer(env);
    try {
      const messagesNow = () =>
        server.logs.flatMap((line) => {
          try {
            return [(JSON.parse(line) as { msg: string }).msg];
          } catch {
            return [];
          }
        });
      // /ready can answer before the last start-up line has reached this process's pipe.
      for (let i = 0; i < 50 && !messagesNow().some((m) => m.startsWith('Converge is serving')); i++)
        await new Promise((r) => setTimeout(r, 100));
      const messages = messagesNow();
      if (!onPostgres)
        expect(messages).toContain(`initialising the PGlite data folder ${join(dir, 'data')} (a first start takes a few seconds)`);
      else {
        const url = new URL(env.DATABASE_URL!);
        expect(messages).toContain(`connecting to PostgreSQL at ${url.hostname}:${url.port || '5432'}${url.pathname}`);
      }
      expect(messages).toContain(`applying ${journal.entries.length} migrations`);
      expect(messages.at(-1)).toBe(`Converge is serving ${server.url}`);
    } finally {
      server.kill('SIGTERM');
      await server.exited;
      await database?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a port in use is one line on stderr and exit 1, before any database work', async () => {
    const s = await startTestServer();
    // A "database" that accepts connections and never answers: touching it would hang the start for
    // postgres.js's 30 s connect timeout; and a PGlite folder the start would create.
    const silent = createNetServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const dir = mkdtempSync(join(tmpdir(), 'converge-port-in-use-'));
    try {
      const port = new URL(s.origin).port;
      const silentUrl = `postgres://postgres@127.0.0.1:${(silent.address() as AddressInfo).port}/converge`;
      const envs: Record<string, string>[] = [{ PGLITE_DIR: join(dir, 'data'), DATABASE_URL: '' }, { DATABASE_URL: silentUrl }];
      for (const env of envs) {
        const started = Date.now();
        const r = await runMainToExit({ PORT: port, ...env });
        expect(r.code).toBe(1);
        expect(r.stderr).toBe(`converge: 127.0.0.1:${port} is already in use; stop the other server or set PORT\n`);
        expect(r.stdout).toBe(''); // not even "connecting to PostgreSQL" or "initialising the PGlite data folder"
        expect(existsSync(join(dir, 'data'))).toBe(false);
        // Measured at 0.3-0.6 s on a loaded 2-core machine; the bound only says no database was waited for.
        expect(Date.now() - started).toBeLessThan(10_000);
      }
    } finally {
      silent.close();
      rmSync(dir, { recursive: true, force: true });
      await s.close();
    }
  });

  itIf(
    needsPostgres('a PostgreSQL server to refuse the database'),
    'a DATABASE_URL naming a database that does not exist is one line on stderr and exit 1',
    async () => {
      const url = new URL(process.env.TEST_DATABASE_URL!);
      url.pathname = '/converge_no_such_database';
      const r = await runMainToExit({ PORT: '0', DATABASE_URL: url.toString() });
      expect(r.code).toBe(1);
      expect(r.stderr).toBe('converge: PostgreSQL: database "converge_no_such_database" does not exist (check DATABASE_URL)\n');
      expect(r.stdout).not.toMatch(/"level":60/); // no fatal log line
    },
  );
});

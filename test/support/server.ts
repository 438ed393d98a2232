// Starts a real Converge server (HTTP + graphql-ws) on a free port, on PostgreSQL when
// TEST_DATABASE_URL is set and on an in-memory PGlite otherwise, with small clients for tests.
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { buildApp, type App } from '../../src/app.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { loadConfig } from '../../src/config.ts';
import { createTestDatabase, type TestDatabase } from './db.ts';

export type GraphQLResponse<T = any> = {
  status: number;
  data?: T;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, any> }[];
  extensions?: Record<string, any>;
};

export type TestServer = {
  app: App;
  url: string;
  wsUrl: string;
  origin: string;
  gql<T = any>(query: string, variables?: Record<string, unknown>, headers?: Record<string, string>): Promise<GraphQLResponse<T>>;
  wsClient(connectionParams?: Record<string, unknown>): Client;
  /** Runs a subscription to its end (or `take` events) over graphql-ws. */
  subscribe<T = any>(
    query: string,
    variables?: Record<string, unknown>,
    options?: { take?: number; client?: Client },
  ): Promise<{ events: T[]; errors?: unknown }>;
  /**
   * Resolves once `count` subscriptions of `name` are open on the server (its metrics say so); fails at
   * once with what `watching` (the subscription's own result) says, should it end first.
   */
  subscribed(name: string, count?: number, watching?: Promise<{ events: unknown[]; errors?: unknown }>): Promise<void>;
  close(): Promise<void>;
};

export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  let testDatabase: TestDatabase | undefined;
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', DATA_KEY_SECRET: process.env.DATA_KEY_SECRET, ...env });
  if (process.env.TEST_DATABASE_URL) {
    testDatabase = await createTestDatabase({ migrate: false });
    await testDatabase.database.close();
    config.database = testDatabase.options as { url: string; poolMax: number };
  } else {
    config.database = { pgliteDir: 'memory://' };
  }
  const app = await buildApp(config, { log: silentLogger });
  const url = await app.start();
  const origin = new URL(url).origin;
  const wsUrl = url.replace(/^http/, 'ws');
  const clients: Client[] = [];

  const wsClient = (connectionParams?: Record<string, unknown>) => {
    const client = createClient({ url: wsUrl, webSocketImpl: WebSocket, connectionParams, retryAttempts: 0, lazy: true });
    clients.push(client);
    return client;
  };

  return {
    app,
    url,
    wsUrl,
    origin,
    async gql(query, variables, headers = {}) {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...headers },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await response.json()) as Omit<GraphQLResponse, 'status'>;
      return { status: response.status, ...body };
    },
    wsClient,
    subscribe(query, variables, options = {}) {
      const client = options.client ?? wsClient();
      const events: any[] = [];
      return new Promise((resolve) => {
        // Messages that arrive in one frame reach `next` together: what comes after the end is not the test's.
        let over = false;
        const end = (result: { events: any[]; errors?: unknown }) => {
          if (over) return;
          over = true;
          resolve(result);
        };
        const unsubscribe = client.subscribe(
          { query, variables },
          {
            next: (value) => {
              if (over) return;
              if (value.errors) {
                unsubscribe();
                end({ events, errors: value.errors });
                return;
              }
              events.push(value.data);
              if (options.take && events.length >= options.take) {
                unsubscribe();
                end({ events });
              }
            },
            error: (errors) => end({ events, errors }),
            complete: () => end({ events }),
          },
        );
      });
    },
    async subscribed(name, count = 1, watching) {
      const pattern = new RegExp(`^converge_subscriptions_active\\{name="${name}"\\} (\\d+)$`, 'm');
      let ended: unknown;
      void watching?.then((result) => (ended = result));
      for (const deadline = Date.now() + 10_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 10))) {
        if (ended) throw new Error(`the ${name} subscription ended before it was counted open: ${JSON.stringify(ended)}`);
        const open = Number(pattern.exec(await (await fetch(`${origin}/metrics`)).text())?.[1] ?? 0);
        if (open >= count) return;
      }
      throw new Error(`${count} ${name} subscription(s) did not open in 10 s`);
    },
    async close() {
      await Promise.all(clients.map((c) => c.dispose()));
      await app.stop();
      await testDatabase?.close();
    },
  };
}

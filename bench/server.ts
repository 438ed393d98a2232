// A Converge server for the HTTP benchmarks, in a child process (or this one), and a small keep-alive
// GraphQL client. The child is this file run with BENCH_SERVER_URL set: `node <npm start's flags>
// --import tsx bench/server.ts`; it answers `cpu` and `rss` requests on stdin, one JSON line each, and
// stops when stdin closes. BENCH_SERVER_ENV (JSON) adds configuration variables (CONSISTENCY_MAX_WAITS,
// say) to the child's.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import { buildApp, type App } from '../src/app.ts';
import type { Logger } from '../src/core/logger.ts';
import { loadConfig as loadAppConfig } from '../src/config.ts';
import { openDatabase } from '../src/infra/db/open-database.ts';
import { migrate } from '../src/infra/db/migrate.ts';
import { cpuMsOf } from './cpu.ts';
import { ensureDatabase, env, log, redactUrl, REPO_ROOT, truncatePublicTables } from './lib.ts';

// Set in the child's environment only: this file then serves.
const CHILD_URL_ENV = 'BENCH_SERVER_URL';
const CHILD_POOL_ENV = 'BENCH_SERVER_POOL';
const CHILD_CONFIG_ENV = 'BENCH_SERVER_ENV';

// ------------------------------------------------------------------------------------------------
// The server: in this process or in a child

export type Server = {
  url: string;
  mode: 'child' | 'inproc';
  /** CPU time the server process has used so far, in ms (child only: in-process it would include the client). */
  cpuMs(): Promise<number | null>;
  /** The server process's resident set size, in bytes (child only). */
  rssBytes(): Promise<number | null>;
  stop(): Promise<void>;
};

// TENANCY passes through, so that any scenario can measure TENANCY=multi (open mode: tenant default); so
// do OpenTelemetry's OTEL_* variables, so that any scenario can measure tracing on (README, Tracing).
const appConfig = (url: string, poolMax: number, extra: Record<string, string> = {}) =>
  loadAppConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: url,
    LOG_LEVEL: 'silent',
    DB_POOL_MAX: String(poolMax),
    DATA_KEY_SECRET: process.env.DATA_KEY_SECRET ?? 'converge-bench-data-key-secret-0123456789',
    ...(process.env.TENANCY && { TENANCY: process.env.TENANCY }),
    ...Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith('OTEL_'))),
    ...extra,
  });

// Typed as the app's Logger, so that a change of its shape shows up in `npm run typecheck`.
const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

export async function startInProcess(url: string, poolMax: number, extraEnv: Record<string, string> = {}): Promise<Server> {
  const app = await buildApp(appConfig(url, poolMax, extraEnv), { log: silent });
  const graphqlUrl = await startOrClose(app);
  return { url: graphqlUrl, mode: 'inproc', cpuMs: async () => null, rssBytes: async () => null, stop: () => app.stop() };
}

async function startOrClose(app: App): Promise<string> {
  try {
    return await app.start();
  } catch (error) {
    await app.stop().catch(() => {});
    throw error;
  }
}

/**
 * The Node flags of `npm start` (package.json: `node <flags> bin/converge.mjs serve`), so that the child
 * runs with the heap settings the service runs with.
 */
function startNodeFlags(): string[] {
  const start = (JSON.parse(readFileSync(`${REPO_ROOT}/package.json`, 'utf8')) as { scripts?: { start?: string } }).scripts?.start ?? '';
  const match = /^node((?:\s+--\S+)*)\s+bin\/converge\.mjs serve$/.exec(start);
  if (!match) throw new Error(`package.json's start script is not "node <flags> bin/converge.mjs serve": ${JSON.stringify(start)}`);
  return match[1]!.split(/\s+/).filter(Boolean);
}

// Lines of the child's protocol on its stdout carry this prefix; anything else there is passed on.
const REPLY_PREFIX = '@bench-server ';

export async function startChild(url: string, poolMax: number, extraEnv: Record<string, string> = {}): Promise<Server> {
  const extraArgs = env('HTTP_SERVER_NODE_ARGS', '').split(/\s+/).filter(Boolean);
  const child = spawn(process.execPath, [...startNodeFlags(), ...extraArgs, '--import', 'tsx', fileURLToPath(import.meta.url)], {
    cwd: REPO_ROOT,
    env: { ...process.env, [CHILD_URL_ENV]: url, [CHILD_POOL_ENV]: String(poolMax), [CHILD_CONFIG_ENV]: JSON.stringify(extraEnv) },
    // stdin: closing it stops the child (also when this process dies); stdout: the replies.
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  // The child answers one JSON line per request, in order: first its URL, then one per `cpu` or `rss`.
  const waiting: { resolve: (line: string) => void; reject: (error: Error) => void }[] = [];
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code) => {
      exitCode = code;
      for (const w of waiting.splice(0)) w.reject(new Error(`server child exited with ${code}`));
      resolve();
    }),
  );
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (line.startsWith(REPLY_PREFIX)) waiting.shift()?.resolve(line.slice(REPLY_PREFIX.length));
    else process.stderr.write(`server child: ${line}\n`);
  });
  const reply = async <T>(request?: string): Promise<T> => {
    if (exitCode !== undefined) throw new Error(`server child exited with ${exitCode}`);
    const line = new Promise<string>((resolve, reject) => waiting.push({ resolve, reject }));
    if (request) child.stdin!.write(`${request}\n`);
    return JSON.parse(await line) as T;
  };
  const { url: graphqlUrl } = await reply<{ url: string }>();
  return {
    url: graphqlUrl,
    mode: 'child',
    cpuMs: async () => (await reply<{ cpuMs: number }>('cpu')).cpuMs,
    rssBytes: async () => (await reply<{ rss: number }>('rss')).rss,
    async stop() {
      child.stdin!.end();
      const timeout = sleep(15_000).then(() => 'timeout' as const);
      if ((await Promise.race([exited, timeout])) === 'timeout') {
        log('server child did not stop within 15s; killing it');
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

/**
 * The child's side: prints its URL, answers each `cpu` line on stdin with its CPU time so far and each
 * `rss` line with its resident set size, and stops cleanly when stdin closes (so that --cpu-prof gets
 * written).
 */
async function serveAsChild(url: string, poolMax: number, extra: Record<string, string>): Promise<void> {
  const app = await buildApp(appConfig(url, poolMax, extra), { log: silent });
  const graphqlUrl = await startOrClose(app);
  process.stdout.write(`${REPLY_PREFIX}${JSON.stringify({ url: graphqlUrl })}\n`);
  const commands = createInterface({ input: process.stdin });
  commands.on('line', (line) => {
    if (line === 'cpu') process.stdout.write(`${REPLY_PREFIX}${JSON.stringify({ cpuMs: cpuMsOf(process.cpuUsage()) })}\n`);
    if (line === 'rss') process.stdout.write(`${REPLY_PREFIX}${JSON.stringify({ rss: process.memoryUsage.rss() })}\n`);
  });
  await new Promise<void>((resolve) => commands.once('close', resolve));
  await app.stop();
  process.exit(0);
}

// ------------------------------------------------------------------------------------------------
// The client

export type GraphQLResponse = { data?: Record<string, any> | null; errors?: { message: string }[] };

export type Client = {
  post(query: string, variables?: Record<string, unknown>, extensions?: Record<string, unknown>): Promise<GraphQLResponse>;
  close(): void;
};

/**
 * node:http with a keep-alive Agent, a socket per worker (undici is not in node_modules, only inside Node's
 * fetch); `headers` go with every request (x-tenant).
 */
export function createClient(graphqlUrl: string, sockets: number, headers: Record<string, string> = {}): Client {
  const agent = new http.Agent({ keepAlive: true, maxSockets: sockets });
  const { hostname, port, pathname } = new URL(graphqlUrl);
  return {
    post(query, variables, extensions) {
      const body = JSON.stringify({ query, ...(variables && { variables }), ...(extensions && { extensions }) });
      return new Promise((resolve, reject) => {
        const request = http.request(
          {
            agent,
            hostname,
            port,
            path: pathname,
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              accept: 'application/graphql-response+json',
              'content-length': Buffer.byteLength(body),
              ...headers,
            },
          },
          (response) => {
            const chunks: Buffer[] = [];
            response.on('data', (chunk: Buffer) => chunks.push(chunk));
            response.on('error', reject);
            response.on('end', () => {
              const text = Buffer.concat(chunks).toString('utf8');
              if (response.statusCode !== 200) return reject(new Error(`HTTP ${response.statusCode}: ${text.slice(0, 300)}`));
              try {
                resolve(JSON.parse(text) as GraphQLResponse);
              } catch (error) {
                reject(error);
              }
            });
          },
        );
        request.on('error', reject);
        request.end(body);
      });
    },
    close: () => agent.destroy(),
  };
}

/** The response's data, or an error naming the first GraphQL error. */
export function dataOf(response: GraphQLResponse, what: string): Record<string, any> {
  if (response.errors?.length) throw new Error(`${what}: ${response.errors[0]!.message}`);
  if (!response.data) throw new Error(`${what}: no data`);
  return response.data;
}

// ------------------------------------------------------------------------------------------------
// Set-up

/** Migrated and empty, before any server opens it; warns when someone else is using the database. */
export async function prepareDatabase(url: string, poolMax: number): Promise<void> {
  await ensureDatabase(url);
  const database = await openDatabase({ url, poolMax: Math.min(poolMax, 2), applicationName: 'converge-bench' });
  try {
    await migrate(database);
    const others = await database.rows<{ n: number }>(
      sql`select count(*)::int as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()
        and application_name <> 'converge-bench'`,
    );
    if ((others[0]?.n ?? 0) > 0) log(`warning: ${others[0]!.n} other session(s) on ${redactUrl(url)}; the numbers may be disturbed`);
    await truncatePublicTables(database);
  } finally {
    await database.close();
  }
}

// ------------------------------------------------------------------------------------------------

const childUrl = process.env[CHILD_URL_ENV];
if (childUrl && process.argv[1] === fileURLToPath(import.meta.url)) {
  serveAsChild(
    childUrl,
    Number(process.env[CHILD_POOL_ENV] ?? '10'),
    JSON.parse(process.env[CHILD_CONFIG_ENV] ?? '{}') as Record<string, string>,
  ).catch((error: unknown) => {
    process.stderr.write(`bench server failed: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(1);
  });
}

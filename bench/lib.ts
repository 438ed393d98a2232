// Shared benchmark helpers: env config, database bootstrap, the closed-loop load driver and result
// output. The driver, percentiles and reset steps mirror /work/shared/peer-bench/lib.mjs on purpose,
// so that our numbers and the peer's are measured the same way and can be divided by each other.
import { appendFileSync, mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import type { Database } from '../src/infra/db/database.ts';

export const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(BENCH_DIR, '..');
export const RESULTS_FILE = path.join(BENCH_DIR, 'results', 'latest.jsonl');

export function env(name: string, fallback: string): string {
  const value = process.env[name];
  return value === undefined || value === '' ? fallback : value;
}

/** A positive number (an integer if asked) from the environment, or an error naming the variable. */
export function positiveNumber(name: string, fallback: string, integer = false): number {
  const value = Number(env(name, fallback));
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new Error(`${name} must be a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(process.env[name])}`);
  }
  return value;
}

/** A list of integers of at least `min` (spaces or commas between), or an error naming the variable. */
export function integerList(name: string, fallback: string, min = 1): number[] {
  const values = env(name, fallback)
    .split(/[\s,]+/)
    .filter(Boolean)
    .map(Number);
  if (values.length === 0 || values.some((n) => !Number.isInteger(n) || n < min)) {
    throw new Error(`${name} must be integers of at least ${min}, got ${JSON.stringify(process.env[name])}`);
  }
  return values;
}

export type BenchConfig = {
  /** Server URL without a database name. */
  baseUrl: string;
  durationS: number;
  warmupS: number;
  concurrencies: number[];
  poolMax: number;
  /** The peer gives Emmett its own pg.Pool only when POOL_MAX is set, so we must know. */
  poolMaxExplicit: boolean;
  /** Truncate + CHECKPOINT before each measurement (RESET=0 skips both, as in the peer). */
  reset: boolean;
};

export function loadConfig(): BenchConfig {
  const baseUrl = env('BENCH_DATABASE_URL', 'postgres://postgres@127.0.0.1:5432').replace(/\/+$/, '');
  const durationS = Number(env('DURATION_S', '10'));
  const warmupS = Number(env('WARMUP_S', '1'));
  const poolMax = Number(env('POOL_MAX', '10'));
  const concurrencies = env('CONCURRENCIES', '1 8 32')
    .split(/[\s,]+/)
    .filter(Boolean)
    .map(Number);
  const numbers = { durationS, warmupS, poolMax, ...Object.fromEntries(concurrencies.map((c, i) => [`concurrency[${i}]`, c])) };
  for (const [name, value] of Object.entries(numbers)) {
    if (!Number.isFinite(value) || value < 0) throw new Error(`bad ${name}: ${value}`);
  }
  if (concurrencies.length === 0 || concurrencies.some((c) => !Number.isInteger(c) || c < 1)) {
    throw new Error(`CONCURRENCIES must be positive integers, got ${JSON.stringify(process.env.CONCURRENCIES)}`);
  }
  if (!Number.isInteger(poolMax) || poolMax < 1) throw new Error(`POOL_MAX must be a positive integer, got ${poolMax}`);
  return {
    baseUrl,
    durationS,
    warmupS,
    concurrencies,
    poolMax,
    poolMaxExplicit: env('POOL_MAX', '') !== '',
    reset: env('RESET', '1') !== '0',
  };
}

/** The URL of database `name`, prefixed by BENCH_DB_PREFIX (compare.ts gives each tree its own), `postgres` aside. */
export function databaseUrl(baseUrl: string, name: string): string {
  const url = new URL(baseUrl);
  const prefix = env('BENCH_DB_PREFIX', '');
  url.pathname = `/${encodeURIComponent(name === 'postgres' || name.startsWith(prefix) ? name : prefix + name)}`;
  return url.toString();
}

/** For diagnostics: a URL may carry a password. */
export const redactUrl = (url: string) => url.replace(/\/\/[^@/]*@/, '//***@');

const quiet = { onnotice: () => {} };

/** Creates the database if missing, through the `postgres` maintenance database. */
export async function ensureDatabase(url: string): Promise<void> {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
  if (!name) throw new Error(`database URL has no database name: ${redactUrl(url)}`);
  const admin = postgres(databaseUrl(url, 'postgres'), { max: 1, ...quiet });
  try {
    const rows = await admin`select 1 from pg_database where datname = ${name}`;
    if (rows.length === 0) await admin.unsafe(`create database "${name.replace(/"/g, '""')}"`);
  } finally {
    await admin.end({ timeout: 5 });
  }
}

/**
 * Flushes dirty buffers so that every measurement starts with a comparable amount of pending WAL and
 * checkpoint work. Needs superuser or pg_checkpoint; skipped with a note otherwise.
 */
export async function checkpoint(url: string): Promise<void> {
  const sql = postgres(url, { max: 1, ...quiet });
  try {
    await sql`checkpoint`;
  } catch (error) {
    process.stderr.write(`checkpoint skipped: ${(error as Error).message}\n`);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

export type LoadResult = {
  ops: number;
  seconds: number;
  opsPerSec: number;
  p50ms: number | null;
  p99ms: number | null;
  errors: number;
};

/** One op of a closed loop: `worker` in [0, concurrency), `seq` counts that worker's ops from 0. */
export type Op = (worker: number, seq: number) => Promise<void>;

// Nearest-rank, as lib.mjs computes it.
export function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? null;
}

export function round(value: number, digits: number): number;
export function round(value: number | null, digits: number): number | null;
export function round(value: number | null, digits: number): number | null {
  return value === null ? null : Number(value.toFixed(digits));
}

/**
 * Closed-loop driver: `concurrency` workers each await `op` back to back until the deadline. No op
 * starts after it; in-flight ones finish and `seconds` includes that tail. One latency sample per
 * successful op.
 */
export async function runLoad(options: { concurrency: number; durationS: number; op: Op }): Promise<LoadResult> {
  const { concurrency, durationS, op } = options;
  const latencies: number[] = [];
  let ops = 0;
  let errors = 0;
  let firstError: unknown;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(durationS * 1e9));
  const worker = async (w: number) => {
    let seq = 0;
    while (process.hrtime.bigint() < deadline) {
      const t0 = process.hrtime.bigint();
      try {
        await op(w, seq++);
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
        ops++;
      } catch (error) {
        errors++;
        firstError ??= error;
        if (errors > 1000 && errors > ops) throw error; // clearly broken: stop instead of spinning
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  latencies.sort((a, b) => a - b);
  if (firstError !== undefined) {
    process.stderr.write(`first error: ${(firstError as Error)?.stack ?? String(firstError)}\n`);
  }
  return {
    ops,
    seconds: round(seconds, 3),
    opsPerSec: round(ops / seconds, 1),
    p50ms: round(percentile(latencies, 50), 3),
    p99ms: round(percentile(latencies, 99), 3),
    errors,
  };
}

export type Measurement = {
  system: string;
  scenario: string;
  concurrency: number;
  opsPerSec: number;
  p50ms: number | null;
  p99ms: number | null;
  ops: number;
  seconds: number;
  errors: number;
  pool: number;
  /** Same for every line of one `bench/run.ts` invocation, to tell runs apart in latest.jsonl. */
  run: string;
};

/** Everything a scenario gets from the dispatcher. */
export type BenchContext = {
  config: BenchConfig;
  runId: string;
  /** Prints the line on stdout and appends it to bench/results/latest.jsonl. */
  /** Prints and appends one line: the fixed keys in their order, then any scenario-specific extras. */
  record(measurement: Omit<Measurement, 'run'>, extra?: Record<string, number | string | boolean | null>): Measurement;
};

/** What a scenario hands back: its lines, and optionally a human summary for the end of the run. */
export type ScenarioOutcome = { measurements: Measurement[]; summary?: string };

export type ScenarioModule = { run(context: BenchContext): Promise<ScenarioOutcome> };

export function createRecorder(runId: string): BenchContext['record'] {
  mkdirSync(path.dirname(RESULTS_FILE), { recursive: true });
  return (measurement, extra = {}) => {
    // Fixed key order, so lines from us and from the peer diff cleanly.
    const line: Measurement = {
      system: measurement.system,
      scenario: measurement.scenario,
      concurrency: measurement.concurrency,
      opsPerSec: measurement.opsPerSec,
      p50ms: measurement.p50ms,
      p99ms: measurement.p99ms,
      ops: measurement.ops,
      seconds: measurement.seconds,
      errors: measurement.errors,
      pool: measurement.pool,
      run: runId,
    };
    const json = JSON.stringify({ ...line, ...extra });
    process.stdout.write(`${json}\n`);
    // Appended line by line, so an interrupted run keeps what it measured.
    appendFileSync(RESULTS_FILE, `${json}\n`);
    return line;
  };
}

/**
 * One measurement as the peer does it: reset, warm-up (thrown away), timed run. `makeOp` gets the
 * phase so that warm-up and run use distinct stream ids.
 */
export async function measure(options: {
  config: BenchConfig;
  concurrency: number;
  reset: () => Promise<void>;
  makeOp: (phase: 'warm' | 'run') => Op;
}): Promise<LoadResult> {
  const { config, concurrency, makeOp } = options;
  if (config.reset) await options.reset();
  if (config.warmupS > 0) await runLoad({ concurrency, durationS: config.warmupS, op: makeOp('warm') });
  return runLoad({ concurrency, durationS: config.durationS, op: makeOp('run') });
}

export const log = (message: string) => process.stderr.write(`${message}\n`);

/** Short, unique per process: keeps stream ids of repeated runs apart without a truncate. */
export const newRunId = () => `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

/** Throughput of one measurement over another's; null when either is missing or the divisor is 0. */
export function ratio(numerator: Measurement | undefined, denominator: Measurement | undefined): number | null {
  if (!numerator || !denominator || denominator.opsPerSec === 0) return null;
  return numerator.opsPerSec / denominator.opsPerSec;
}

/** Every table the migrations made (read models included), emptied, identities restarted. */
export async function truncatePublicTables(database: Database): Promise<void> {
  const tables = await database.rows<{ name: string }>(
    sql`select quote_ident(tablename) as name from pg_tables where schemaname = 'public'`,
  );
  if (tables.length > 0) {
    await database.rows(sql.raw(`truncate ${tables.map((t) => t.name).join(', ')} restart identity`));
  }
}

/** context.record, plus the 1-minute load average when the measurement ended: the machine is shared. */
export function recorderWithLoad(context: BenchContext) {
  return (line: Omit<Measurement, 'run'>, extra: Record<string, number | string | boolean | null>): Measurement =>
    context.record(line, { ...extra, load1: Number(loadavg()[0]!.toFixed(2)) });
}

/** A createOrder input of one line, for customer `n % 100`. */
export const orderInput = (n: number, unitPrice = '9.99') => ({
  customerId: `customer-${n % 100}`,
  items: [{ productId: 'sku-0', quantity: 1, unitPrice }],
  shippingAddress: { line1: '1 Main St', city: 'Berlin', postalCode: '10115', country: 'DE' },
});

/** The highest RSS `server` reports, sampled every 250 ms until `deadline` (a performance.now() time), at least `from`. */
export async function peakRssUntil(server: { rssBytes(): Promise<number | null> }, deadline: number, from: number): Promise<number> {
  let peak = from;
  while (performance.now() < deadline) {
    peak = Math.max(peak, (await server.rssBytes()) ?? 0);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return peak;
}

/** A random one of `ids` with no change in flight (ten tries), or undefined: one change per stream at a time. */
export function idNotInFlight(ids: readonly string[], inFlight: ReadonlySet<string>): string | undefined {
  let id = ids[Math.floor(Math.random() * ids.length)]!;
  for (let tries = 0; inFlight.has(id) && tries < 10; tries++) id = ids[Math.floor(Math.random() * ids.length)]!;
  return inFlight.has(id) ? undefined : id;
}

// Scenario `startup`: time from spawning the server to /ready answering 200, as `npm start` starts it (its
// package.json start script run by sh, without npm's own share; STARTUP_VIA_NPM=1 runs `npm start` itself).
// Three cases: a restart on PostgreSQL, a restart on an existing PGlite folder, a first start on a fresh
// PGlite folder. With STARTUP_BASELINE (a checkout's folder, or a commit whose files git archive puts in the
// OS temp folder, with `npm ci` there), that checkout is measured too, alternating with this one run by run,
// and the summary gives this checkout's median over the baseline's. Goals (issue 24): ≤ 0.5× on the two
// restarts, ≤ 0.7× on a fresh folder.
// Each run also reads the server's resident set size one second after /ready (every process of its group,
// from /proc: Linux only, else none): the idle RSS of the service as `npm start` runs it (issue 32's goal:
// at most 200 MB).
// Env: STARTUP_RUNS (5 per case and checkout), STARTUP_CASES (postgres,pglite,pglite-fresh), STARTUP_BASELINE,
// STARTUP_VIA_NPM, and lib.ts's BENCH_DATABASE_URL.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../test/support/processes.ts';
import {
  databaseUrl,
  ensureDatabase,
  env,
  log,
  type Measurement,
  positiveNumber,
  REPO_ROOT,
  recorderWithLoad,
  round,
  type BenchContext,
  type ScenarioOutcome,
} from './lib.ts';

const CASES = ['postgres', 'pglite', 'pglite-fresh'] as const;
type Case = (typeof CASES)[number];
const GOALS: Record<Case, number> = { postgres: 0.5, pglite: 0.5, 'pglite-fresh': 0.7 };
const READY_TIMEOUT_MS = 120_000;

type Checkout = { label: string; dir: string; start: string };

function checkout(label: string, dir: string): Checkout {
  const start = (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { scripts?: { start?: string } }).scripts?.start;
  if (!start) throw new Error(`${dir}/package.json has no start script`);
  return { label, dir, start };
}

/**
 * The baseline's folder: STARTUP_BASELINE itself, or that commit's files (git archive, which leaves the
 * repository as it is) in the OS temp folder, made once and then reused.
 */
function baselineDir(spec: string): string {
  if (existsSync(path.join(spec, 'package.json'))) return path.resolve(spec);
  const sha = execFileSync('git', ['rev-parse', '--short', `${spec}^{commit}`], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
  const dir = path.join(tmpdir(), `converge-startup-${sha}`);
  if (!existsSync(path.join(dir, 'package.json'))) {
    log(`startup: the files of ${sha} into ${dir}`);
    mkdirSync(dir, { recursive: true });
    execFileSync('sh', ['-c', `git archive ${sha} | tar -x -C "${dir}"`], { cwd: REPO_ROOT, stdio: 'inherit' });
  }
  if (!existsSync(path.join(dir, 'node_modules'))) {
    log(`startup: npm ci in ${dir}`);
    execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: dir, stdio: ['ignore', 2, 2] });
  }
  return dir;
}

/** Starts the checkout as its start script does, in a process group of its own (sh, then node). */
function spawnStart(target: Checkout, port: number, database: Record<string, string>): ChildProcess {
  const viaNpm = env('STARTUP_VIA_NPM', '0') === '1';
  const [command, args] = viaNpm ? ['npm', ['start']] : ['sh', ['-c', target.start]];
  const childEnv: NodeJS.ProcessEnv = {
    DATA_KEY_SECRET: 'converge-bench-data-key-secret-0123456789',
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    ...database,
  };
  for (const name of ['DATABASE_URL', 'PGLITE_DIR'] as const) if (!(name in database)) delete childEnv[name];
  childEnv.PATH = `${path.join(target.dir, 'node_modules', '.bin')}${path.delimiter}${process.env.PATH ?? ''}`;
  return spawn(command, args as string[], { cwd: target.dir, env: childEnv, detached: true, stdio: ['ignore', 'ignore', 'inherit'] });
}

/** The summed resident set size of the processes of group `pgid`, in bytes (null without /proc). */
function groupRssBytes(pgid: number): number | null {
  if (!existsSync('/proc/self/stat')) return null;
  let total = 0;
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      // Field 5 of stat is the process group; the command name (field 2) may hold spaces, so split after it.
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      if (Number(fields[2]) !== pgid) continue;
      const rss = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (rss) total += Number(rss[1]) * 1024;
    } catch {
      // The process exited in between.
    }
  }
  return total;
}

/**
 * Seconds from spawn to /ready answering 200, and the server's RSS a second later; the server is stopped
 * (SIGTERM to its group) before it returns.
 */
async function timeToReady(target: Checkout, database: Record<string, string>): Promise<{ seconds: number; rssBytes: number | null }> {
  const port = await freePort();
  const started = performance.now();
  const child = spawnStart(target, port, database);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${target.label}: the server exited with ${child.exitCode} before it was ready`);
      if (performance.now() - started > READY_TIMEOUT_MS) throw new Error(`${target.label}: not ready within ${READY_TIMEOUT_MS / 1000} s`);
      const ready = await fetch(`http://127.0.0.1:${port}/ready`).then(
        (response) => response.ok,
        () => false,
      );
      if (ready) {
        const seconds = (performance.now() - started) / 1000;
        await sleep(1000);
        return { seconds, rssBytes: groupRssBytes(child.pid!) };
      }
      await sleep(10);
    }
  } finally {
    await stopGroup(child.pid!, exited);
  }
}

/** Whether any process of the group is left (sh may be gone while the server still closes its data). */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM to the whole group, then waits until every process of it has exited (SIGKILL after 15 s). */
async function stopGroup(pgid: number, exited: Promise<void>): Promise<void> {
  process.kill(-pgid, 'SIGTERM');
  const deadline = performance.now() + 15_000;
  while (groupAlive(pgid)) {
    if (performance.now() > deadline) process.kill(-pgid, 'SIGKILL');
    await sleep(20);
  }
  await exited;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

export async function run(context: BenchContext): Promise<ScenarioOutcome> {
  const runs = positiveNumber('STARTUP_RUNS', '5', true);
  const cases = env('STARTUP_CASES', CASES.join(',')).split(',').filter(Boolean) as Case[];
  const unknown = cases.filter((c) => !CASES.includes(c));
  if (unknown.length > 0) throw new Error(`STARTUP_CASES: unknown ${unknown.join(', ')}; known: ${CASES.join(', ')}`);
  const baselineSpec = env('STARTUP_BASELINE', '');
  const targets = [checkout('this', REPO_ROOT)];
  if (baselineSpec) targets.push(checkout(`baseline ${baselineSpec}`, baselineDir(baselineSpec)));

  // This checkout's build, once: each measured start still runs the start script's freshness check.
  execFileSync(process.execPath, [path.join(REPO_ROOT, 'scripts', 'build.mjs'), '--if-stale'], { stdio: 'inherit' });

  const scratch = mkdtempSync(path.join(tmpdir(), 'converge-startup-data-'));
  const databases = new Map<Checkout, { postgres: Record<string, string>; pglite: Record<string, string> }>();
  try {
    for (const [i, target] of targets.entries()) {
      const url = databaseUrl(context.config.baseUrl, `converge_bench_startup_${i}`);
      if (cases.includes('postgres')) await ensureDatabase(url);
      const database = { postgres: { DATABASE_URL: url }, pglite: { PGLITE_DIR: path.join(scratch, `existing-${i}`) } };
      databases.set(target, database);
      // Warm-ups, not counted: migrations applied, the PGlite folder made, the file cache filled.
      for (const c of cases.filter((c) => c !== 'pglite-fresh')) await timeToReady(target, database[c as 'postgres' | 'pglite']);
    }

    const seconds = new Map<string, number[]>();
    const rssMb = new Map<string, number[]>();
    for (let n = 0; n < runs; n++) {
      for (const c of cases) {
        // Alternate who goes first, so that a drift of the shared machine's load weighs on both alike.
        for (const target of n % 2 ? [...targets].reverse() : targets) {
          let database: Record<string, string>;
          let fresh: string | undefined;
          if (c === 'pglite-fresh') {
            fresh = mkdtempSync(path.join(scratch, 'fresh-'));
            database = { PGLITE_DIR: path.join(fresh, 'pglite') };
          } else database = databases.get(target)![c];
          const { seconds: s, rssBytes } = await timeToReady(target, database);
          if (fresh) rmSync(fresh, { recursive: true, force: true });
          const key = `${c}\u0000${target.label}`;
          seconds.set(key, [...(seconds.get(key) ?? []), s]);
          if (rssBytes !== null) rssMb.set(key, [...(rssMb.get(key) ?? []), rssBytes / 1024 / 1024]);
          log(
            `startup ${c} ${target.label}: ${s.toFixed(2)} s${rssBytes === null ? '' : `, RSS ${(rssBytes / 1024 / 1024).toFixed(1)} MB`}`,
          );
        }
      }
    }

    const record = recorderWithLoad(context);
    const measurements: Measurement[] = [];
    const rows: string[] = ['case          checkout                 median   range           ratio  goal   idle RSS (median)'];
    for (const c of cases) {
      const medians = targets.map((target) => median(seconds.get(`${c}\u0000${target.label}`)!));
      for (const [i, target] of targets.entries()) {
        const key = `${c}\u0000${target.label}`;
        const values = seconds.get(key)!;
        const rss = rssMb.get(key);
        const idleRssMb = rss ? round(median(rss), 1) : null;
        const ratio = i === 0 && targets.length > 1 ? medians[0]! / medians[1]! : null;
        const line = {
          system: target.label,
          scenario: `startup-${c}`,
          concurrency: 1,
          opsPerSec: round(1 / medians[i]!, 3),
          p50ms: round(medians[i]! * 1000, 0),
          p99ms: round(Math.max(...values) * 1000, 0),
          ops: values.length,
          seconds: round(
            values.reduce((a, b) => a + b, 0),
            2,
          ),
          errors: 0,
          pool: 0,
        };
        measurements.push(
          record(line, {
            minMs: round(Math.min(...values) * 1000, 0),
            ratioToBaseline: ratio === null ? null : round(ratio, 2),
            idleRssMb,
          }),
        );
        rows.push(
          `${c.padEnd(13)} ${target.label.padEnd(24)} ${medians[i]!.toFixed(2).padStart(5)} s  ` +
            `${Math.min(...values).toFixed(2)}–${Math.max(...values).toFixed(2)} s`.padEnd(16) +
            (ratio === null ? ''.padEnd(15) : `  ${ratio.toFixed(2)}×  ≤ ${GOALS[c]}×`) +
            (idleRssMb === null ? '' : `  ${idleRssMb} MB`),
        );
      }
    }
    return {
      measurements,
      summary: `startup to /ready (${runs} runs each${env('STARTUP_VIA_NPM', '0') === '1' ? ', through npm start' : ''}):\n${rows.join('\n')}`,
    };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

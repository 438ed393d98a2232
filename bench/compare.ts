// `npm run bench -- compare <ref>`: the key scenarios on <ref> and on this working tree, alternated, and
// each figure's ratio (working tree / ref) with its range over the rounds. <ref> is checked out in a
// scratch worktree (git worktree add --detach, under the OS temp folder, removed afterwards) that runs
// its own bench code: `npx tsx bench/run.ts <scenario>` in each tree, its JSON lines read from stdout.
// node_modules is a symlink to this tree's when package-lock.json and patches/ are identical, else
// the scratch tree gets its own `npm ci`. Each side has databases of its own (BENCH_DB_PREFIX, plus
// PROJECTIONS_DB and HTTP_DB for refs older than the prefix), dropped at the end.
// Env: ROUNDS (2), COMPARE_SCENARIOS ("append projections http"); every other variable passes through
// to both sides, with shorter defaults unless set: DURATION_S 5, CONCURRENCIES "1 32",
// CATCHUP_EVENTS 50000, HTTP_ROUNDS 1, SETUP_ORDERS 1000.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import postgres from 'postgres';
import { databaseUrl, env, log, newRunId, positiveNumber, REPO_ROOT, type Measurement } from './lib.ts';

type Side = 'ref' | 'work';
type Figure = { key: string; better: 'higher' | 'lower'; value: number };
/** Per scenario and side: each round's figures, or the reason it has none. */
type Runs = Map<string, Record<Side, { rounds: Map<string, number>[]; missing?: string }>>;

const DEFAULTS: Record<string, string> = {
  DURATION_S: '5',
  CONCURRENCIES: '1 32',
  CATCHUP_EVENTS: '50000',
  HTTP_ROUNDS: '1',
  SETUP_ORDERS: '1000',
};

/** The figures of one measurement line: throughput, and latency where it has one. */
function figuresOf(line: Measurement): Figure[] {
  const name = `${line.system} ${line.scenario} c=${line.concurrency}`;
  const figures: Figure[] = [];
  // read-your-writes lines carry the background rate in opsPerSec: only their latencies are the figure.
  if (!line.scenario.includes('read-your-writes')) figures.push({ key: `${name} ops/s`, better: 'higher', value: line.opsPerSec });
  if (line.p50ms !== null) figures.push({ key: `${name} p50 ms`, better: 'lower', value: line.p50ms });
  if (line.p99ms !== null) figures.push({ key: `${name} p99 ms`, better: 'lower', value: line.p99ms });
  // CPU per operation (http's server child and database backends): it moves far less with the machine's other load than ops/s.
  // fanout's own: the server's CPU per delivered event, its memory per subscription, and the p99s over the
  // read-your-writes p99 at the first size of the same run.
  const extra = line as Measurement & Record<string, unknown>;
  for (const [field, label] of [
    ['serverCpuMsPerOp', 'server cpu ms/op'],
    ['dbCpuMsPerOp', 'db cpu ms/op'],
    ['serverCpuMsPerDelivered', 'server cpu ms/event'],
    ['rssKbPerSubscription', 'rss KB/subscription'],
    ['rywP99Ratio', 'read-your-writes p99 / first size'],
    ['deliveryP99Ratio', 'delivery p99 / first size'],
  ] as const) {
    const value = extra[field];
    if (typeof value === 'number') figures.push({ key: `${name} ${label}`, better: 'lower', value });
  }
  return figures;
}

function git(args: string[], cwd = REPO_ROOT): string {
  const result = spawnSync('git', args, { cwd, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${result.stderr.trim()}`);
  return result.stdout.trim();
}

/** True when the ref's dependencies would install exactly what this tree's node_modules holds. */
function sameDependencies(commit: string): boolean {
  const show = (file: string) => spawnSync('git', ['show', `${commit}:${file}`], { cwd: REPO_ROOT, encoding: 'buffer' });
  const lock = show('package-lock.json');
  if (lock.status !== 0 || !lock.stdout.equals(readFileSync(path.join(REPO_ROOT, 'package-lock.json')))) return false;
  // patch-package rewrites node_modules at install: the patches must match too.
  const theirs = spawnSync('git', ['ls-tree', '-r', commit, '--', 'patches'], { cwd: REPO_ROOT, encoding: 'utf8' }).stdout.trim();
  const dir = path.join(REPO_ROOT, 'patches');
  const ours = existsSync(dir) ? readdirSync(dir) : [];
  const listed = theirs === '' ? [] : theirs.split('\n').map((l) => path.basename(l.split('\t')[1]!));
  return (
    listed.length === ours.length &&
    ours.every((file) => {
      const blob = show(`patches/${file}`);
      return blob.status === 0 && blob.stdout.equals(readFileSync(path.join(dir, file)));
    })
  );
}

function runCommand(command: string, args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', process.stderr, process.stderr] });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} exited ${code}`))));
  });
}

/** Runs one scenario in one tree; its measurement lines, or why there are none. */
function runScenario(cwd: string, scenario: string, extraEnv: Record<string, string>): Promise<{ lines: Measurement[]; failure?: string }> {
  return new Promise((resolve) => {
    const child = spawn('npx', ['tsx', 'bench/run.ts', scenario], {
      cwd,
      env: { ...process.env, ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: Measurement[] = [];
    let stderrTail = '';
    createInterface({ input: child.stdout }).on('line', (text) => {
      try {
        const line = JSON.parse(text) as Measurement;
        if (typeof line.scenario === 'string' && typeof line.opsPerSec === 'number') lines.push(line);
      } catch {
        // not a measurement line
      }
    });
    createInterface({ input: child.stderr }).on('line', (text) => {
      stderrTail = `${stderrTail}\n${text}`.slice(-2000);
      process.stderr.write(`  | ${text}\n`);
    });
    child.on('error', (error) => resolve({ lines, failure: error.message }));
    child.on('close', (code, signal) => {
      if (code === 0) resolve({ lines });
      else if (signal) resolve({ lines, failure: `killed by ${signal}` });
      else if (/unknown scenario/.test(stderrTail)) resolve({ lines, failure: 'scenario not in this tree' });
      else resolve({ lines, failure: `exit ${code}: ${stderrTail.trim().split('\n').at(-1)}` });
    });
  });
}

async function dropDatabases(prefix: string): Promise<void> {
  const admin = postgres(databaseUrl(env('BENCH_DATABASE_URL', 'postgres://postgres@127.0.0.1:5432'), 'postgres'), {
    max: 1,
    onnotice: () => {},
  });
  try {
    const rows = await admin<{ datname: string }[]>`select datname from pg_database where starts_with(datname, ${prefix})`;
    for (const { datname } of rows) await admin.unsafe(`drop database if exists "${datname.replace(/"/g, '""')}" with (force)`);
  } finally {
    await admin.end({ timeout: 5 });
  }
}

const median = (sorted: number[]) => {
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

function report(runs: Runs, betterOf: Map<string, 'higher' | 'lower'>, refLabel: string): string {
  const out = [`compare: working tree / ${refLabel}, median of per-round ratios [min-max]; >1 is faster for ops/s, slower for ms`];
  const row = (figure: string, ref: string, work: string, ratio: string) =>
    `${figure.padEnd(58)}${ref.padStart(12)}${work.padStart(12)}   ${ratio}`;
  out.push(row('figure', 'ref', 'work', 'work/ref'));
  for (const [scenario, sides] of runs) {
    for (const side of ['ref', 'work'] as const) {
      if (sides[side].missing)
        out.push(`${scenario}: missing on ${side === 'ref' ? refLabel : 'the working tree'} (${sides[side].missing})`);
    }
    const keys = [...new Set([...sides.ref.rounds, ...sides.work.rounds].flatMap((r) => [...r.keys()]))];
    for (const key of keys) {
      const ref = sides.ref.rounds.map((r) => r.get(key));
      const work = sides.work.rounds.map((r) => r.get(key));
      const fmt = (values: (number | undefined)[]) => {
        const present = values.filter((v): v is number => v !== undefined).sort((a, b) => a - b);
        if (present.length === 0) return 'missing';
        const value = median(present);
        return value.toFixed(value < 1 ? 3 : value < 100 ? 2 : 0);
      };
      const ratios = ref
        .map((r, i) => (r !== undefined && work[i] !== undefined && r !== 0 ? work[i]! / r : undefined))
        .filter((v): v is number => v !== undefined)
        .sort((a, b) => a - b);
      const cell =
        ratios.length === 0
          ? ref.every((v) => v === undefined)
            ? `missing on ${refLabel}`
            : 'missing on the working tree'
          : `${median(ratios).toFixed(2)} [${ratios[0]!.toFixed(2)}-${ratios.at(-1)!.toFixed(2)}] (${betterOf.get(key)} is better)`;
      out.push(row(key, fmt(ref), fmt(work), cell));
    }
  }
  return out.join('\n');
}

export async function compare(argv: string[]): Promise<number> {
  const [ref, ...rest] = argv;
  if (!ref || rest.length > 0) {
    log('usage: npm run bench -- compare <ref>   (ROUNDS, COMPARE_SCENARIOS and the scenarios variables apply)');
    return 2;
  }
  const rounds = positiveNumber('ROUNDS', '2', true);
  if (rounds < 2) log('warning: ROUNDS < 2 gives no range');
  const scenarios = env('COMPARE_SCENARIOS', 'append projections http')
    .split(/[\s,]+/)
    .filter(Boolean);
  const commit = git(['rev-parse', '--verify', `${ref}^{commit}`]);
  const refLabel = `${ref} (${commit.slice(0, 8)})`;
  const dirty = git(['status', '--porcelain', '--untracked-files=no']) !== '';
  const runId = newRunId();
  const dir = mkdtempSync(path.join(tmpdir(), 'converge-compare-'));
  const prefixes: Record<Side, string> = { ref: `cmp_${runId}_ref_`, work: `cmp_${runId}_work_` };
  const defaults = Object.fromEntries(Object.entries(DEFAULTS).filter(([name]) => env(name, '') === ''));
  const sideEnv = (side: Side) => ({
    ...defaults,
    BENCH_DB_PREFIX: prefixes[side],
    PROJECTIONS_DB: `${prefixes[side]}converge_projections_bench`,
    HTTP_DB: `${prefixes[side]}converge_http_bench`,
  });
  const trees: Record<Side, string> = { ref: dir, work: REPO_ROOT };
  let worktreeAdded = false;
  const cleanUp = async () => {
    if (worktreeAdded) {
      spawnSync('git', ['worktree', 'remove', '--force', dir], { cwd: REPO_ROOT });
      spawnSync('git', ['worktree', 'prune'], { cwd: REPO_ROOT });
      worktreeAdded = false;
    }
    rmSync(dir, { recursive: true, force: true });
    for (const prefix of Object.values(prefixes))
      await dropDatabases(prefix).catch((e: Error) => log(`could not drop ${prefix}*: ${e.message}`));
  };
  const onSignal = () => void cleanUp().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    log(`compare: ${refLabel} in ${dir}, working tree ${REPO_ROOT}${dirty ? ' (with uncommitted changes)' : ''}`);
    git(['worktree', 'add', '--detach', dir, commit]);
    worktreeAdded = true;
    if (sameDependencies(commit)) {
      symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
      log('compare: same package-lock.json and patches: node_modules symlinked');
    } else {
      log('compare: dependencies differ: npm ci in the scratch tree...');
      await runCommand('npm', ['ci', '--no-audit', '--no-fund'], dir);
    }
    const runs: Runs = new Map(scenarios.map((s) => [s, { ref: { rounds: [] }, work: { rounds: [] } }]));
    const betterOf = new Map<string, 'higher' | 'lower'>();
    const loads: number[] = [];
    for (let round = 1; round <= rounds; round++) {
      // Alternate which side goes first, so neither always runs on a machine the other just warmed.
      const order: Side[] = round % 2 === 1 ? ['ref', 'work'] : ['work', 'ref'];
      for (const scenario of scenarios) {
        const sides = runs.get(scenario)!;
        for (const side of order) {
          if (sides[side].missing) continue;
          log(`compare round ${round}/${rounds}: ${scenario} on ${side === 'ref' ? refLabel : 'the working tree'}...`);
          loads.push(loadavg()[0]!);
          const { lines, failure } = await runScenario(trees[side], scenario, sideEnv(side));
          if (failure) {
            log(`compare: ${scenario} on ${side}: ${failure}`);
            sides[side].missing = round > 1 ? `${failure}, in round ${round}: its earlier rounds are shown` : failure;
            continue;
          }
          const figures = new Map<string, number>();
          for (const figure of lines.flatMap(figuresOf)) {
            figures.set(figure.key, figure.value);
            betterOf.set(figure.key, figure.better);
          }
          sides[side].rounds[round - 1] = figures;
        }
      }
    }
    // Rounds a side did not finish count as absent, not as zero.
    for (const sides of runs.values()) {
      for (const side of ['ref', 'work'] as const) {
        sides[side].rounds = Array.from({ length: rounds }, (_, i) => sides[side].rounds[i] ?? new Map());
      }
    }
    const sortedLoads = loads.sort((a, b) => a - b);
    log(`\n${report(runs, betterOf, refLabel)}`);
    log(`load (1-min average at each run's start): ${sortedLoads[0]?.toFixed(2)}-${sortedLoads.at(-1)?.toFixed(2)}, ${rounds} rounds`);
    return [...runs.values()].some((s) => s.work.missing && s.work.missing !== 'scenario not in this tree') ? 1 : 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanUp();
  }
}

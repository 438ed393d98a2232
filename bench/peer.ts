// Runs the Emmett peer benchmark (/work/shared/peer-bench, next to this repo) as a child process and
// turns its JSON lines into our measurement shape. shared/ may be read-only, so, as its run.sh does,
// the scripts run from a writable copy that holds their node_modules.
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { env, log, REPO_ROOT, type Measurement } from './lib.ts';

export const PEER_SOURCE_DIR = path.resolve(REPO_ROOT, '..', 'shared', 'peer-bench');

type PeerLine = Omit<Measurement, 'run'>;

/** The writable copy, ready to run, or null (with a warning) when shared/peer-bench is not there. */
export async function preparePeer(): Promise<string | null> {
  if (!existsSync(path.join(PEER_SOURCE_DIR, 'emmett-append.mjs'))) {
    log(`warning: ${PEER_SOURCE_DIR} not found; skipping the emmett measurements`);
    return null;
  }
  const workDir = env('PEER_BENCH_HOME', path.join(env('TMPDIR', tmpdir()), 'peer-bench'));
  mkdirSync(workDir, { recursive: true });
  const files = readdirSync(PEER_SOURCE_DIR).filter((f) => f.endsWith('.mjs') || f === 'package.json' || f === 'package-lock.json');
  for (const file of files) {
    const from = path.join(PEER_SOURCE_DIR, file);
    const to = path.join(workDir, file);
    // Copy only what changed: a fresh mtime on package-lock.json would force a reinstall every run.
    if (!existsSync(to) || !readFileSync(from).equals(readFileSync(to))) copyFileSync(from, to);
  }
  const modules = path.join(workDir, 'node_modules');
  if (!existsSync(modules) || statSync(path.join(workDir, 'package-lock.json')).mtimeMs > statSync(modules).mtimeMs) {
    log(`installing peer-bench dependencies in ${workDir} (npm ci)...`);
    // npm's own output goes to stderr: stdout carries only measurement lines.
    await runChild('npm', ['ci', '--no-audit', '--no-fund'], { cwd: workDir, env: process.env, onLine: log });
  }
  return workDir;
}

/**
 * Runs emmett-append.mjs once (both of its scenarios, one concurrency) and returns its lines,
 * renamed to our field set. Its stderr passes straight through.
 */
export async function runEmmett(options: {
  workDir: string;
  databaseUrl: string;
  concurrency: number;
  durationS: number;
  warmupS: number;
  /** Forwarded only when the user set it: unset, Emmett builds its own default pool as in the peer. */
  poolMax: number | undefined;
  reset: boolean;
}): Promise<PeerLine[]> {
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: options.databaseUrl,
    CONCURRENCY: String(options.concurrency),
    DURATION_S: String(options.durationS),
    WARMUP_S: String(options.warmupS),
    RESET: options.reset ? '1' : '0',
  };
  delete childEnv.POOL_MAX;
  if (options.poolMax !== undefined) childEnv.POOL_MAX = String(options.poolMax);
  const lines: PeerLine[] = [];
  await runChild('node', ['emmett-append.mjs'], {
    cwd: options.workDir,
    env: childEnv,
    onLine: (text) => {
      const line = parsePeerLine(text);
      if (line) lines.push(line);
      else if (text.trim() !== '') log(`emmett: ${text}`);
    },
  });
  return lines;
}

function parsePeerLine(text: string): PeerLine | null {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return null;
  }
  const num = (key: string) => (typeof raw[key] === 'number' ? (raw[key] as number) : null);
  const system = raw.system;
  const scenario = raw.scenario;
  const concurrency = num('concurrency');
  const opsPerSec = num('opsPerSec');
  if (typeof system !== 'string' || typeof scenario !== 'string' || concurrency === null || opsPerSec === null) return null;
  return {
    system,
    scenario,
    concurrency,
    opsPerSec,
    p50ms: num('p50ms'),
    p99ms: num('p99ms'),
    ops: num('ops') ?? 0,
    seconds: num('seconds') ?? 0,
    errors: num('errors') ?? 0,
    pool: num('pool') ?? 0,
  };
}

/** Spawns a command, hands each stdout line to onLine, passes stderr through, rejects on failure. */
function runChild(
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; onLine: (line: string) => void },
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'inherit'] });
    const stdoutDone = new Promise<void>((done) => {
      createInterface({ input: child.stdout }).on('line', options.onLine).on('close', done);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      void stdoutDone.then(() => {
        if (code === 0) resolve();
        else reject(new Error(`${command} ${args.join(' ')} failed (${signal ?? `exit ${code}`}) in ${options.cwd}`));
      });
    });
  });
}

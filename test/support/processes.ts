// Real server processes for operations tests: the compiled server (`node dist/main.js`, what npm start
// runs through bin/converge.mjs; the global setup bundles it) with its own environment, and a private
// PostgreSQL cluster (initdb in a temp folder) that a test may stop and start at will.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export type ServerProcess = {
  child: ChildProcess;
  url: string;
  origin: string;
  logs: string[];
  exited: Promise<number | null>;
  /** `signal` aborts the request (and its wait for the body): a request the server never answers fails. */
  gql<T = any>(
    query: string,
    variables?: Record<string, unknown>,
    options?: { signal?: AbortSignal },
  ): Promise<{ status: number; data?: T; errors?: any[] }>;
  kill(signal: NodeJS.Signals): void;
};

export async function startServer(env: Record<string, string>): Promise<ServerProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const collect = (chunk: Buffer) => logs.push(...chunk.toString().split('\n').filter(Boolean));
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const origin = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited at start:\n${logs.join('\n')}`);
    try {
      if ((await fetch(`${origin}/ready`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`server not ready in 60 s:\n${logs.join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const url = `${origin}/graphql`;
  return {
    child,
    url,
    origin,
    logs,
    exited,
    async gql(query, variables, options = {}) {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
        body: JSON.stringify({ query, variables }),
        signal: options.signal,
      });
      return { status: response.status, ...((await response.json()) as object) };
    },
    kill: (signal) => child.kill(signal),
  };
}

/** Kills a server still running (SIGKILL) and waits for it to go. */
export async function killServer(server: ServerProcess | undefined): Promise<void> {
  if (!server || server.child.exitCode !== null) return;
  server.kill('SIGKILL');
  await server.exited;
}

/** Runs `dist/main.js` until it exits (a start that fails), with stdout and stderr apart. */
export function runMainToExit(
  env: Record<string, string>,
  timeoutMs = 60_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN], {
      env: { ...process.env, HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`still running after ${timeoutMs} ms:\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A PostgreSQL cluster of the test's own, so that the test can stop and restart the server. */
export type PrivateCluster = {
  url: string;
  port: number;
  stop(): void;
  start(): void;
  restart(): void;
  /**
   * Stops the server (`-m fast` or `-m immediate`) and starts it again without blocking this process's
   * event loop (load goes on meanwhile); resolves with the database's own outage: from the stop to the
   * first connection it accepted again.
   */
  bounce(mode: 'fast' | 'immediate'): Promise<{ outageMs: number }>;
  destroy(): void;
};

function pgBin(name: string): string | undefined {
  try {
    const versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a));
    for (const v of versions) return join('/usr/lib/postgresql', v, 'bin', name);
  } catch {
    return undefined;
  }
  return undefined;
}

/** Needs the PostgreSQL server binaries and root (initdb and postgres then run as user postgres). */
export function canRunPrivateCluster(): boolean {
  return process.getuid?.() === 0 && pgBin('initdb') !== undefined && spawnSync('id', ['postgres']).status === 0;
}

export async function startPrivateCluster(): Promise<PrivateCluster> {
  const { dir, data, asPostgres } = await privateFolder();
  // initdb's pg_hba.conf lets replication connections in from 127.0.0.1 (trust), as replicas need.
  asPostgres([pgBin('initdb')!, '-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  return runCluster(dir, data, asPostgres, await freePort());
}

/**
 * A streaming replica of a private cluster (pg_basebackup -R: a hot standby that follows it), with
 * `recovery_min_apply_delay` when asked (each commit shows that long after the primary's).
 */
export async function startReplica(
  primary: PrivateCluster,
  options: { applyDelayMs?: number } = {},
): Promise<PrivateCluster & { promote(): void }> {
  const { dir, data, asPostgres } = await privateFolder();
  asPostgres([
    pgBin('pg_basebackup')!,
    '-h',
    '127.0.0.1',
    '-p',
    String(primary.port),
    '-U',
    'postgres',
    '-D',
    data,
    '-R',
    '-X',
    'stream',
    '--checkpoint=fast',
    '--no-sync',
  ]);
  if (options.applyDelayMs) {
    asPostgres(['sh', '-c', `echo "recovery_min_apply_delay = '${options.applyDelayMs}ms'" >> ${join(data, 'postgresql.auto.conf')}`]);
  }
  const cluster = runCluster(dir, data, asPostgres, await freePort());
  return { ...cluster, promote: () => asPostgres([pgBin('pg_ctl')!, '-D', data, '-w', 'promote']) };
}

async function privateFolder() {
  const dir = mkdtempSync(join(tmpdir(), 'converge-pg-'));
  chmodSync(dir, 0o755);
  const uid = Number(spawnSync('id', ['-u', 'postgres']).stdout.toString().trim());
  const gid = Number(spawnSync('id', ['-g', 'postgres']).stdout.toString().trim());
  chownSync(dir, uid, gid);
  const asPostgres = (args: string[]) => {
    const r = spawnSync('runuser', ['-u', 'postgres', '--', ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${args.join(' ')} failed: ${r.stderr || r.stdout}`);
  };
  return { dir, data: join(dir, 'data'), asPostgres };
}

/** asPostgres without blocking the event loop. */
function asPostgresAsync(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('runuser', ['-u', 'postgres', '--', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${args.join(' ')} failed: ${output}`))));
  });
}

/**
 * Whether the server at `port` accepts a connection now: a startup packet (user and database postgres)
 * answered with an authentication request, not with an error (such as "the database system is starting up").
 */
function acceptsConnection(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('close', () => done(false));
    socket.once('data', (data: Buffer) => done(data[0] === 0x52)); // 'R': an authentication request
    socket.once('connect', () => {
      const parameters = Buffer.from('user\0postgres\0database\0postgres\0\0');
      const message = Buffer.alloc(8 + parameters.length);
      message.writeInt32BE(message.length, 0);
      message.writeInt32BE(196608, 4); // protocol 3.0
      parameters.copy(message, 8);
      socket.write(message);
    });
  });
}

async function firstAcceptedConnection(port: number, deadline: number): Promise<void> {
  while (!(await acceptsConnection(port))) {
    if (Date.now() > deadline) throw new Error(`PostgreSQL on port ${port} accepted no connection in time`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function runCluster(dir: string, data: string, asPostgres: (args: string[]) => void, port: number): PrivateCluster {
  const ctlArgs = (action: string, extra: string[] = []) => [
    pgBin('pg_ctl')!,
    '-D',
    data,
    '-l',
    join(dir, 'log'),
    '-w',
    '-t',
    '60',
    ...extra,
    action,
  ];
  const ctl = (action: string, extra: string[] = []) => asPostgres(ctlArgs(action, extra));
  const options = ['-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`];
  ctl('start', options);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    stop: () => ctl('stop', ['-m', 'fast']),
    start: () => ctl('start', options),
    restart: () => ctl('restart', ['-m', 'fast', ...options]),
    async bounce(mode) {
      const stoppedAt = Date.now();
      await asPostgresAsync(ctlArgs('stop', ['-m', mode]));
      const started = asPostgresAsync(ctlArgs('start', options));
      await firstAcceptedConnection(port, Date.now() + 60_000);
      const outageMs = Date.now() - stoppedAt;
      await started;
      return { outageMs };
    },
    destroy() {
      try {
        ctl('stop', ['-m', 'immediate']);
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

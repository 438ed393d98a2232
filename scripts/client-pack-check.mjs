#!/usr/bin/env node
// CI's check that @converge/client works as people install it: `npm pack` packages/client, install the
// tarball with Apollo Client, rxjs, urql and graphql (the lockfile's versions) into a scratch project in the
// OS temp folder, start the compiled server (PGlite in memory, a free port), and run a plain `node app.mjs`
// there (client-pack-check/app.mjs): no tsx, no workspace. Before that, `tsc --noEmit` checks an application's
// view of the declarations (client-pack-check/types.ts). KEEP_SCRATCH=1 keeps the scratch folder.
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const PEERS = ['@apollo/client', 'rxjs', '@urql/core', 'graphql', 'typescript'];
const READY_TIMEOUT_MS = 60_000;
const APP_TIMEOUT_MS = 60_000;

const step = (text) => process.stdout.write(`client-pack-check: ${text}\n`);
const npm = (args, cwd) => execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });

/** The version package-lock.json installs of a package, so that the check uses what the tests use. */
function lockedVersion(name) {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'));
  const version = lock.packages[`node_modules/${name}`]?.version;
  if (!version) throw new Error(`${name} is not in package-lock.json`);
  return version;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** The compiled server on PGlite in memory; resolves once /ready answers 200. */
async function startServer() {
  const port = await freePort();
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'main.js')], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      PGLITE_DIR: 'memory://',
      LOG_LEVEL: 'warn',
      CONSISTENCY_TIMEOUT_MS: '1000',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const origin = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode} before it was ready`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the server was not ready within ${READY_TIMEOUT_MS / 1000} s`);
    }
    const ready = await fetch(`${origin}/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return { child, url: `${origin}/graphql` };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function runApp(scratch, url) {
  return new Promise((resolve, reject) => {
    const app = spawn(process.execPath, ['app.mjs'], { cwd: scratch, env: { ...process.env, CONVERGE_URL: url }, stdio: 'inherit' });
    const timer = setTimeout(() => {
      app.kill('SIGKILL');
      reject(new Error(`node app.mjs did not finish within ${APP_TIMEOUT_MS / 1000} s`));
    }, APP_TIMEOUT_MS);
    app.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`node app.mjs exited with ${code}`));
    });
  });
}

async function main() {
  const scratch = mkdtempSync(join(tmpdir(), 'converge-client-pack-'));
  let server;
  try {
    const [{ filename }] = JSON.parse(npm(['pack', '--json', '--pack-destination', scratch], join(ROOT, 'packages', 'client')));
    step(`packed ${filename}`);
    writeFileSync(
      join(scratch, 'package.json'),
      `${JSON.stringify({ name: 'converge-client-pack-check', private: true, type: 'module' }, null, 2)}\n`,
    );
    const peers = PEERS.map((name) => `${name}@${lockedVersion(name)}`);
    npm(['install', '--no-audit', '--no-fund', '--save-exact', `./${filename}`, ...peers], scratch);
    step(`installed it in ${scratch} with ${peers.join(' ')}`);
    for (const file of ['app.mjs', 'types.ts']) copyFileSync(join(ROOT, 'scripts', 'client-pack-check', file), join(scratch, file));
    // skipLibCheck: @wry/caches (under Apollo Client) has declarations that nodenext refuses; ours are checked as they are used.
    const tscFlags = ['--noEmit', '--strict', '--module', 'nodenext', '--target', 'es2022', '--lib', 'es2022,dom', '--skipLibCheck'];
    execFileSync(process.execPath, [join(scratch, 'node_modules', 'typescript', 'bin', 'tsc'), ...tscFlags, 'types.ts'], {
      cwd: scratch,
      stdio: 'inherit',
    });
    step('its declarations type-check in an application (tsc, module nodenext)');

    execFileSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs'), '--if-stale'], { stdio: 'inherit' });
    server = await startServer();
    step(`server ready at ${server.url}; running node app.mjs`);
    await runApp(scratch, server.url);
    step('passed');
  } finally {
    if (server) {
      const exited = new Promise((resolve) => server.child.once('exit', resolve));
      server.child.kill('SIGTERM');
      const timer = setTimeout(() => server.child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    if (process.env.KEEP_SCRATCH === '1') step(`kept ${scratch}`);
    else rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((error) => {
  process.stderr.write(`client-pack-check: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});

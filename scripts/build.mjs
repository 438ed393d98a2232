#!/usr/bin/env node
// Builds what `npm start`, the `converge` bin and the client package run: the server bundled by esbuild
// into dist/ (main.js, cli.js and their shared chunks), the test kit converge/testing (dist/testing/, its
// dependencies left outside), their type declarations (tsc, dist/types/) and packages/client/dist (tsc). `--if-stale` bundles the server only when dist/ is missing or older than its
// sources, and says nothing when it is fresh; `--js` skips the declarations. Plain JavaScript, so that it runs
// before anything is compiled. Why a bundle: docs/decisions/startup.md.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const at = (...parts) => join(ROOT, ...parts);

// Loaded at run time from a folder next to the package, so they stay outside the bundle: PGlite's WebAssembly
// and data files, pino's transport workers.
const EXTERNAL = ['@electric-sql/pglite', 'pino'];

const SERVER = {
  name: 'server',
  stamp: at('dist', '.built'),
  // An install (npm ci) rewrites node_modules/.package-lock.json: the bundle holds the dependencies too.
  sources: [at('src'), at('scripts', 'build.mjs'), at('package.json'), at('node_modules', '.package-lock.json')],
};
const CLIENT = {
  name: '@converge/client',
  stamp: at('packages', 'client', 'dist', '.built'),
  sources: [at('packages', 'client', 'src'), at('packages', 'client', 'package.json'), at('packages', 'client', 'tsconfig.json')],
};

/** The newest modification time of these files and of every file under these folders (0 when none exists). */
function newest(paths) {
  let latest = 0;
  for (const path of paths) {
    if (!existsSync(path)) continue;
    const stat = statSync(path);
    if (!stat.isDirectory()) latest = Math.max(latest, stat.mtimeMs);
    else for (const entry of readdirSync(path)) latest = Math.max(latest, newest([join(path, entry)]));
  }
  return latest;
}

const isStale = (target) => !existsSync(target.stamp) || statSync(target.stamp).mtimeMs < newest(target.sources);

async function loadEsbuild() {
  try {
    return await import('esbuild');
  } catch {
    throw new Error(
      'dist/ is missing or older than src/, and esbuild (a dev dependency) is not installed: run `npm ci`, then `npm run build`',
    );
  }
}

// graphql-js checks each failed instanceof for a second copy of itself unless NODE_ENV=production, which
// costs every request (docs/decisions/http-regression-and-peers.md). The bundle holds one copy: the check
// can only cost there, so the bundle takes graphql-js's production branch whatever NODE_ENV says.
const graphqlInstanceOf = {
  name: 'graphql-instanceof',
  setup(build) {
    build.onLoad({ filter: /[\\/]node_modules[\\/]graphql[\\/]jsutils[\\/]instanceOf\.m?js$/ }, ({ path }) => {
      const source = readFileSync(path, 'utf8');
      const patched = source.replace(/globalThis\.process\s*&&[^;]*?process\.env\.NODE_ENV\s*===\s*['"]production['"]/, 'true');
      if (patched === source) throw new Error(`${path}: graphql-js's NODE_ENV switch was not found; review the graphql-instanceof plugin`);
      return { contents: patched, loader: 'js' };
    });
  },
};

async function bundleServer() {
  const esbuild = await loadEsbuild();
  // Chunk names carry a hash of their content: the last build's would pile up.
  rmSync(at('dist', 'chunks'), { recursive: true, force: true });
  await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: { main: 'src/main.ts', cli: 'src/cli.ts' },
    outdir: 'dist',
    chunkNames: 'chunks/[name]-[hash]',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: EXTERNAL,
    // CommonJS dependencies inside an ES module bundle still call require() for Node's own modules.
    banner: { js: "import { createRequire as __convergeRequire } from 'node:module'; const require = __convergeRequire(import.meta.url);" },
    sourcemap: 'linked',
    logLevel: 'warning',
    plugins: [graphqlInstanceOf],
  });
  // converge/testing is a library for a team's specs: its dependencies are theirs, not bundled.
  await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: { 'testing/index': 'src/testing/index.ts' },
    outdir: 'dist',
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    sourcemap: 'linked',
    logLevel: 'warning',
  });
}

function tsc(project, ...flags) {
  const bin = at('node_modules', 'typescript', 'bin', 'tsc');
  if (!existsSync(bin)) throw new Error('TypeScript (a dev dependency) is not installed: run `npm ci` first');
  const run = spawnSync(process.execPath, [bin, '-p', project, ...flags], { cwd: ROOT, stdio: 'inherit' });
  if (run.status !== 0) throw new Error(`tsc -p ${project} failed`);
}

async function build(target, work) {
  const started = Date.now();
  await work();
  writeFileSync(target.stamp, '');
  process.stderr.write(
    `built ${target.name} (${relative(ROOT, dirname(target.stamp))}/) in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
  );
}

/**
 * Bundles the server when dist/ is missing or older than its sources (what npm start and the bin run). An
 * install without dev dependencies (npm ci --omit=dev after a build) has no esbuild: it runs dist/ as built.
 */
export async function buildServerIfStale() {
  if (!isStale(SERVER)) return;
  if (existsSync(SERVER.stamp) && !existsSync(at('node_modules', 'esbuild'))) {
    process.stderr.write('dist/ is older than its sources, and esbuild (a dev dependency) is not installed: running dist/ as built\n');
    return;
  }
  await build(SERVER, bundleServer);
}

/** Everything, declarations included, whether stale or not. */
export async function buildAll({ declarations = true } = {}) {
  await build(SERVER, async () => {
    await bundleServer();
    if (declarations) tsc('tsconfig.build.json');
  });
  await build(CLIENT, () => tsc('packages/client/tsconfig.json'));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  try {
    if (args.includes('--if-stale')) await buildServerIfStale();
    else await buildAll({ declarations: !args.includes('--js') });
  } catch (error) {
    process.stderr.write(`build: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
}

// `npm run build:console`: builds the console into console/dist with Vite when its sources changed since
// the last build (a hash of them is kept beside the output), so that `npm start` and the tests can ask
// for it every time and pay only when there is something to build. `--force` builds anyway;
// `--if-possible` (npm start) only warns where Vite is not installed.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const CONSOLE_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(CONSOLE_DIR);
const OUT = join(CONSOLE_DIR, 'dist');
const STAMP = join(OUT, '.source-hash');

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? files(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

/** The sources, the build's configuration and the locked dependency versions, hashed by name and content. */
function sourceHash(): string {
  const inputs = [
    ...files(join(CONSOLE_DIR, 'src')),
    join(CONSOLE_DIR, 'index.html'),
    join(CONSOLE_DIR, 'vite.config.ts'),
    join(ROOT, 'package-lock.json'),
  ];
  const hash = createHash('sha256');
  for (const file of inputs.sort()) hash.update(relative(ROOT, file)).update('\0').update(readFileSync(file)).update('\0');
  return hash.digest('hex');
}

/** Builds when stale (or forced); says which it did. `ifPossible`: without Vite (a production install), only a warning. */
export async function buildConsole(
  options: { force?: boolean; quiet?: boolean; ifPossible?: boolean } = {},
): Promise<'built' | 'up to date' | 'not built'> {
  const hash = sourceHash();
  const current = existsSync(join(OUT, 'index.html')) && existsSync(STAMP) && readFileSync(STAMP, 'utf8') === hash;
  if (current && !options.force) return 'up to date';
  let build: typeof import('vite').build;
  try {
    ({ build } = await import('vite'));
  } catch (error) {
    if (!options.ifPossible) throw error;
    console.warn(
      `console: not built (${relative(process.cwd(), OUT)} is missing or stale), for Vite is not installed: npm ci without --omit=dev builds it`,
    );
    return 'not built';
  }
  await build({ configFile: join(CONSOLE_DIR, 'vite.config.ts'), logLevel: options.quiet ? 'warn' : 'info' });
  writeFileSync(STAMP, hash);
  return 'built';
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const outcome = await buildConsole({ force: process.argv.includes('--force'), ifPossible: process.argv.includes('--if-possible') });
  if (outcome === 'up to date') console.log(`console: ${relative(process.cwd(), OUT)} is up to date`);
}

// Vitest global setup: bundles the server into dist/ when it is missing or older than src/, once before any
// test file, because the tests of real processes run the compiled server and CLI, as npm start and the bin do.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  execFileSync(process.execPath, [fileURLToPath(new URL('../../scripts/build.mjs', import.meta.url)), '--if-stale'], { stdio: 'inherit' });
}

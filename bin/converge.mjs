#!/usr/bin/env -S node --max-semi-space-size=64
// The `converge` command (package.json's bin, and `npm start` as `converge serve`): bundles dist/ first
// when it is missing or older than the sources, then runs the compiled command line (src/cli.ts) in this
// same process, so that signals reach the server itself. The flag: docs/decisions/semi-space.md.
import { buildServerIfStale } from '../scripts/build.mjs';

try {
  await buildServerIfStale();
} catch (error) {
  process.stderr.write(`converge: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
await import('../dist/cli.js');

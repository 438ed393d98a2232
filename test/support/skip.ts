// Tests that cannot run here say why. vitest's skipIf/runIf say nothing: these put, in place of what cannot
// run, a test that skips itself with the reason (ctx.skip(reason)), which test/support/skip-reporter.ts
// prints at the end of `npm test`. test/unit/skips.unit.test.ts keeps every other way of skipping out.
import { describe, it, type TestFunction } from 'vitest';
import { onPostgres } from './db.ts';
import { canRunPrivateCluster } from './processes.ts';

/** Why this cannot run here, or undefined when it can. */
export type Missing = string | undefined;

/** A test of real PostgreSQL behaviour: `what` says which (e.g. "real replication"). */
export const needsPostgres = (what: string): Missing => (onPostgres ? undefined : `needs TEST_DATABASE_URL: ${what}`);

/** A test of PGlite's own behaviour, which the PostgreSQL run covers otherwise. */
export const pgliteOnly = (what: string): Missing => (onPostgres ? `runs on PGlite only (without TEST_DATABASE_URL): ${what}` : undefined);

/** The first thing missing of several, or undefined when none is. */
export const firstMissing = (...missing: Missing[]): Missing => missing.find((m) => m !== undefined);

/** describe(name, body) when nothing is missing; otherwise a single test in its place, skipped with the reason. */
export function describeIf(missing: Missing, name: string, body: () => void): void {
  if (missing === undefined) describe(name, body);
  else describe(name, () => it(`skipped: ${missing}`, (ctx) => ctx.skip(missing)));
}

/** it(name, fn, timeout) when nothing is missing; otherwise the same test, skipped with the reason. */
export function itIf(missing: Missing, name: string, fn: TestFunction, timeout?: number): void {
  if (missing === undefined) it(name, fn, timeout);
  else it(name, (ctx) => ctx.skip(missing));
}

/** A test that stops and starts a PostgreSQL cluster of its own (test/support/processes.ts). */
export const needsPrivateCluster = (what: string): Missing =>
  firstMissing(
    needsPostgres(what),
    canRunPrivateCluster() ? undefined : `needs root and the PostgreSQL server binaries (a private cluster): ${what}`,
  );

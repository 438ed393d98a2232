// The command line (src/cli.ts) as an operator runs it: a child process with the environment as its
// configuration, on the driver the suite runs on (a fresh PostgreSQL database with TEST_DATABASE_URL,
// else a PGlite data directory of its own).
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, driverName, onPostgres } from '../support/db.ts';
import { PROCESSORS } from '../support/processors.ts';
import { itIf, pgliteOnly } from '../support/skip.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'bin/converge.mjs');
// Each child loads the app (and PGlite opens its data directory): a few seconds on a busy machine.
const SLOW = 120_000;

type Run = { code: number | null; stdout: string; stderr: string };

describe(`converge CLI on ${driverName}`, () => {
  let env: NodeJS.ProcessEnv;
  let pgliteDir: string | undefined;
  /** What a command that opens the database says first, on stderr. */
  let databaseLine: string;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    const base: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'test', LOG_LEVEL: 'silent' };
    for (const name of ['DATABASE_URL', 'PGLITE_DIR', 'PORT', 'HOST', 'JWT_SECRET', 'CONSISTENCY_TIMEOUT_MS', 'DB_POOL_MAX'])
      delete base[name];
    if (onPostgres) {
      const t = await createTestDatabase({ migrate: false });
      await t.database.close();
      const url = new URL((t.options as { url: string }).url);
      env = { ...base, DATABASE_URL: url.toString() };
      databaseLine = `converge: database: PostgreSQL ${url.hostname}:${url.port || '5432'}${url.pathname} (DATABASE_URL)\n`;
      cleanup = () => t.close();
    } else {
      const dir = await mkdtemp(join(tmpdir(), 'converge-cli-'));
      pgliteDir = join(dir, 'pglite');
      env = { ...base, PGLITE_DIR: pgliteDir };
      databaseLine = `converge: database: PGlite folder ${pgliteDir} (DATABASE_URL is not set)\n`;
      cleanup = () => rm(dir, { recursive: true, force: true });
    }
  });
  afterAll(() => cleanup?.());

  /** Runs the CLI as `node bin/converge.mjs ...args` (or the package's bin itself, by its shebang). */
  function cli(args: string[], extraEnv: Record<string, string> = {}, viaShebang = false): Promise<Run> {
    return new Promise((resolve, reject) => {
      const [command, argv] = viaShebang ? [CLI, args] : [process.execPath, [CLI, ...args]];
      const child = spawn(command, argv, { cwd: ROOT, env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      const timer = setTimeout(() => child.kill('SIGKILL'), SLOW - 5_000);
      child.once('error', reject);
      child.once('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  const lines = (text: string) => text.split('\n').filter((line) => line !== '');
  /** A table's rows as cells (the columns are at least two blanks apart; no cell here has two). */
  const cells = (table: string) => lines(table).map((line) => line.split(/ {2,}/));

  it(
    'usage errors exit 2 with the usage; --help exits 0; a bad environment value exits 1 with one line',
    async () => {
      const [none, unknown, help, badPort, shebang] = await Promise.all([
        cli([]),
        cli(['frobnicate']),
        cli(['--help']),
        cli(['projections', 'status'], { PORT: 'abc' }),
        cli(['help'], {}, true),
      ]);
      expect(none).toMatchObject({ code: 2, stdout: '' });
      expect(none.stderr).toMatch(/^converge: no command given\n/);
      expect(none.stderr).toContain('Usage: converge <command>');
      expect(unknown).toMatchObject({ code: 2, stdout: '' });
      expect(unknown.stderr).toMatch(/^converge: unknown command: frobnicate\n/);
      expect(unknown.stderr).toContain('Usage: converge <command>');
      expect(help).toMatchObject({ code: 0, stderr: '' });
      expect(help.stdout).toContain('projections pause NAME');
      expect(badPort).toMatchObject({ code: 1, stdout: '' });
      expect(badPort.stderr).toMatch(/^converge: PORT: must be a port number[^\n]*\(got "abc"\)\n$/);
      // The file runs by itself (executable, with its shebang), as the package's `converge` bin.
      expect(shebang).toMatchObject({ code: 0, stdout: help.stdout, stderr: '' });
    },
    SLOW,
  );

  it(
    'migrate applies the migrations to an empty database, and again finds nothing to do',
    async () => {
      const journal = JSON.parse(await readFile(join(ROOT, 'drizzle/meta/_journal.json'), 'utf8')) as { entries: unknown[] };
      const n = journal.entries.length;
      const first = await cli(['migrate']);
      expect(first).toMatchObject({ code: 0, stderr: databaseLine });
      expect(first.stdout).toMatch(new RegExp(`^migrations applied: ${n} new, ${n} of ${n} in drizzle/\\n$`));
      const again = await cli(['migrate']);
      expect(again).toMatchObject({ code: 0, stderr: databaseLine });
      expect(again.stdout).toMatch(new RegExp(`^migrations applied: none new, already up to date with ${n} in drizzle/\\n$`));
    },
    SLOW,
  );

  it(
    'projections status lists every projection, as an aligned table or as JSON lines',
    async () => {
      const table = await cli(['projections', 'status']);
      expect(table).toMatchObject({ code: 0, stderr: databaseLine });
      const rows = lines(table.stdout);
      expect(cells(table.stdout)).toEqual([
        ['NAME', 'KIND', 'STATE', 'POSITION', 'LAG', 'LAST ERROR', 'UPDATED'],
        ...PROCESSORS.map(({ name, kind }) => [name, kind, 'RUNNING', '-', '0', '-', expect.any(String)]),
      ]);
      for (const row of rows.slice(1)) expect(row.indexOf('RUNNING')).toBe(rows[0]!.indexOf('STATE'));

      const json = await cli(['projections', 'status', '--json']);
      expect(json).toMatchObject({ code: 0, stderr: databaseLine });
      const statuses = lines(json.stdout).map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(statuses.map((s) => Object.keys(s).sort())).toEqual(
        Array(PROCESSORS.length).fill(['heldBackBy', 'kind', 'lagEvents', 'lastError', 'name', 'position', 'state', 'updatedAt']),
      );
      expect(statuses).toMatchObject(
        PROCESSORS.map(({ name, kind }) => ({
          name,
          kind,
          state: 'RUNNING',
          position: null,
          lagEvents: 0,
          lastError: null,
          heldBackBy: null,
        })),
      );
    },
    SLOW,
  );

  it(
    'pause, resume and rebuild print the new status; an unknown projection or a wrong state exits 1 with one line',
    async () => {
      const paused = await cli(['projections', 'pause', 'orders']);
      expect(paused).toMatchObject({ code: 0, stderr: databaseLine });
      expect(cells(paused.stdout)[1]).toEqual([
        'orders',
        'PROJECTION',
        'PAUSED',
        '-',
        '0',
        '-',
        expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      ]);

      const resumed = await cli(['projections', 'resume', 'orders']);
      expect(resumed).toMatchObject({ code: 0, stderr: databaseLine });
      expect(cells(resumed.stdout)[1]?.slice(0, 3)).toEqual(['orders', 'PROJECTION', 'RUNNING']);

      const notPaused = await cli(['projections', 'resume', 'orders']);
      expect(notPaused).toMatchObject({
        code: 1,
        stdout: '',
        stderr: `${databaseLine}converge: Cannot resume projection orders while it is RUNNING\n`,
      });

      // On PostgreSQL the server running the projection does the rebuild; on PGlite, where no server may
      // hold the data folder meanwhile, the command runs it to its end.
      const rebuilding = await cli(['projections', 'rebuild', 'customer_summaries', '--json']);
      expect(rebuilding).toMatchObject({ code: 0, stderr: databaseLine });
      expect(lines(rebuilding.stdout).map((line) => JSON.parse(line))).toMatchObject([
        { name: 'customer_summaries', state: onPostgres ? 'REBUILDING' : 'RUNNING' },
      ]);
      if (!onPostgres)
        expect(cells((await cli(['projections', 'status'])).stdout)[2]?.slice(0, 3)).toEqual([
          'customer_summaries',
          'PROJECTION',
          'RUNNING',
        ]);

      const unknown = await cli(['projections', 'pause', 'nope']);
      expect(unknown).toMatchObject({ code: 1, stdout: '' });
      expect(unknown.stderr.startsWith(databaseLine)).toBe(true);
      expect(unknown.stderr.slice(databaseLine.length)).toMatch(/^converge: [^\n]*\bnope\b[^\n]*\n$/);
    },
    SLOW,
  );

  it(
    'names the database on the first line of stderr, never its password; stdout stays the answer',
    async () => {
      // Nothing listens on port 1: the line comes before the connection is tried.
      const run = await cli(['projections', 'status', '--json'], { DATABASE_URL: 'postgres://ops:s3cret-pw@127.0.0.1:1/converge' });
      expect(run).toMatchObject({ code: 1, stdout: '' });
      expect(lines(run.stderr)).toEqual([
        'converge: database: PostgreSQL 127.0.0.1:1/converge (DATABASE_URL)',
        'converge: cannot reach the database at DATABASE_URL (connection refused)',
      ]);
      expect(run.stderr).not.toMatch(/s3cret-pw|ops@/);
      // Without DATABASE_URL: the PGlite folder, as an absolute path, and that DATABASE_URL is not set.
      const local = await cli(['projections', 'status', '--json'], { DATABASE_URL: '', PGLITE_DIR: 'memory://' });
      expect(local.code).toBe(0);
      expect(local.stderr).toBe('converge: database: PGlite folder memory:// (DATABASE_URL is not set)\n');
      expect(lines(local.stdout).map((line) => JSON.parse(line).name)).toEqual(PROCESSORS.map((p) => p.name));
    },
    SLOW,
  );

  it(
    'token mints a bearer token the server accepts, with the claims asked for; without JWT_SECRET it says why not',
    async () => {
      const secret = 'a-development-secret-of-32-characters!';
      const [minted, open, bad] = await Promise.all([
        cli(['token', '--sub', 'customer-1', '--role', 'customer', '--expires', '2h'], { JWT_SECRET: secret }),
        cli(['token', '--sub', 'customer-1', '--role', 'customer']),
        cli(['token', '--sub', 'x', '--role', 'root'], { JWT_SECRET: secret }),
      ]);
      expect(minted).toMatchObject({ code: 0, stderr: '' });
      const { jwtVerify } = await import('jose');
      const { payload, protectedHeader } = await jwtVerify(minted.stdout.trim(), new TextEncoder().encode(secret));
      expect(protectedHeader.alg).toBe('HS256');
      expect(payload).toMatchObject({ sub: 'customer-1', roles: ['customer'] });
      expect(payload.exp! - payload.iat!).toBe(7200);
      const { createAuthenticator } = await import('../../src/infra/auth/jwt.ts');
      expect(await createAuthenticator({ secret, tenancy: 'single' }).authenticate(`Bearer ${minted.stdout.trim()}`)).toMatchObject({
        userId: 'customer-1',
        roles: ['customer'],
      });
      expect(open).toMatchObject({ code: 1, stdout: '' });
      expect(open.stderr).toMatch(/^converge: JWT_SECRET is not set[^\n]*\n$/);
      expect(bad).toMatchObject({ code: 2, stdout: '' });
      expect(bad.stderr).toMatch(/^converge: --role must be customer, admin or operator/);
    },
    SLOW,
  );

  itIf(
    pgliteOnly('a PGlite data directory and its lock'),
    'refuses a PGlite data directory that a live process holds, in one line',
    async () => {
      // This test process stands in for a running server: its pid in the lock file, alive.
      const lock = join(pgliteDir!, 'converge.lock');
      await writeFile(lock, String(process.pid));
      try {
        const run = await cli(['projections', 'status']);
        expect(run).toMatchObject({ code: 1, stdout: '' });
        expect(run.stderr).toBe(
          `${databaseLine}converge: PGLITE_DIR ${pgliteDir} is in use by process ${process.pid}; stop it or choose another PGLITE_DIR\n`,
        );
      } finally {
        await rm(lock, { force: true });
      }
    },
    SLOW,
  );
  it(
    'keys rotate needs both secrets, re-wraps with the new one and says how many; keys alone is a usage error',
    async () => {
      const newSecret = 'the-new-master-secret-of-at-least-32-chars';
      const old = process.env.DATA_KEY_SECRET!;
      const missing = await cli(['keys', 'rotate'], { DATA_KEY_SECRET: newSecret });
      expect(missing).toMatchObject({ code: 1, stdout: '' });
      expect(missing.stderr).toMatch(
        /^converge: database: [^\n]+\nconverge: keys rotate needs DATA_KEY_SECRET \(the new secret\) and DATA_KEY_SECRET_PREVIOUS[^\n]*\n$/,
      );
      const usage = await cli(['keys']);
      expect(usage).toMatchObject({ code: 2, stdout: '' });
      expect(usage.stderr).toMatch(/^converge: keys needs a subcommand: keys rotate\n/);
      const rotated = await cli(['keys', 'rotate'], { DATA_KEY_SECRET: newSecret, DATA_KEY_SECRET_PREVIOUS: old });
      expect(rotated.code).toBe(0);
      expect(rotated.stderr).toMatch(/^converge: database: [^\n]+\n$/);
      expect(rotated.stdout).toMatch(/^re-wrapped \d+ data keys? with master key [\w-]+; DATA_KEY_SECRET_PREVIOUS may go now\n$/);
    },
    SLOW,
  );
});

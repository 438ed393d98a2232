// The README's shell commands, run as a reader runs them, so that they cannot drift from what the server
// does. Every ```sh block runs, in bash from the repository folder, unless the line before it is
// `<!-- readme-test: skip: <why> -->` (a block that installs, needs a service this suite does not start, or
// is covered by another test: the comment says which). A ```json block right after a ```sh block is its
// expected output, line by line: `<token>` stands for a consistency token, `…` for anything (a line of its
// own: any number of lines), and the server's own log lines (pino's JSON, when a block starts a server in
// the background) are left out. The blocks of "A five-minute tour" run in order against one server this
// test starts, in one shell (a step's variables reach the next); every other block gets a free PORT and an
// empty database of its own, and whatever it started in the background is stopped after it.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, driverName, onPostgres, type TestDatabase } from '../support/db.ts';
import { freePort, killServer, type ServerProcess, startServer } from '../support/processes.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TOUR = 'A five-minute tour';
// A block that starts a server (npm start: the console's build check, then the bundle) on a busy machine.
const SLOW = 180_000;

type Block = { line: number; section: string; script: string; skip?: string; expected?: string[] };

/** The ```sh blocks of the README, with their section, skip reason and expected output. */
function shellBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  let section = '';
  for (let i = 0; i < lines.length; i++) {
    const heading = /^## (.+)$/.exec(lines[i]!);
    if (heading) section = heading[1]!;
    const fence = /^(\s*)```(\w*)\s*$/.exec(lines[i]!);
    if (!fence) continue;
    const [indent, language] = [fence[1]!, fence[2]!];
    const end = lines.findIndex((line, j) => j > i && line.trim() === '```');
    const body = lines.slice(i + 1, end).map((line) => (line.startsWith(indent) ? line.slice(indent.length) : line));
    if (language === 'sh') {
      const skip = /^\s*<!-- readme-test: skip: (.+) -->\s*$/.exec(lines[i - 1] ?? '')?.[1];
      let next = end + 1;
      while (next < lines.length && lines[next]!.trim() === '') next++;
      let expected: string[] | undefined;
      if (/^\s*```json\s*$/.test(lines[next] ?? '')) {
        const close = lines.findIndex((line, j) => j > next && line.trim() === '```');
        expected = lines.slice(next + 1, close).map((line) => line.trim());
      }
      blocks.push({ line: i + 1, section, script: body.join('\n'), skip, expected });
    }
    i = end;
  }
  return blocks;
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const linePattern = (expected: string) =>
  new RegExp(
    `^${expected
      .split(/(<token>|…)/)
      .map((part) => (part === '<token>' ? '[^"]+' : part === '…' ? '.*?' : escapeRegExp(part)))
      .join('')}$`,
  );

/** Whether the output's lines are the expected ones (a line `…` alone: any number of lines). */
function matchesOutput(output: string[], expected: string[]): boolean {
  const match = (o: number, e: number): boolean => {
    if (e === expected.length) return o === output.length;
    if (expected[e] === '…') return [...Array(output.length - o + 1).keys()].some((skip) => match(o + skip, e + 1));
    return o < output.length && linePattern(expected[e]!).test(output[o]!) && match(o + 1, e + 1);
  };
  return match(0, 0);
}

const isServerLog = (line: string) => /^\{"level":\d+,/.test(line);

/** Runs a script in bash in its own process group; stops the group (a server it left running) after. */
function bash(script: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const stopGroup = (signal: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        // the group is gone
      }
    };
    const timer = setTimeout(() => stopGroup('SIGKILL'), SLOW - 10_000);
    child.once('error', reject);
    // 'exit', not 'close': a server left in the background keeps the pipes open.
    child.once('exit', (code) => {
      clearTimeout(timer);
      stopGroup('SIGTERM');
      // What the background server printed until now is in; give the pipes a moment to deliver it.
      setTimeout(() => resolve({ code, stdout, stderr }), 200);
    });
  });
}

/** The environment of a block: this process's, without the settings a reader would not have set. */
function readerEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  for (const name of ['TEST_DATABASE_URL', 'JWT_SECRET', 'JWT_JWKS_URL', 'TENANCY', 'NODE_ENV', 'LOG_LEVEL', 'VITEST', 'NATS_URL'])
    delete env[name];
  for (const name of Object.keys(env)) if (name.startsWith('VITEST_')) delete env[name];
  return { ...env, ...extra };
}

const blocks = shellBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8'));

describe('the README', () => {
  it('every shell block either runs here or says why not', () => {
    expect(blocks.length).toBeGreaterThan(10);
    for (const block of blocks) expect(block.skip === undefined || block.skip.length > 10, `README.md:${block.line}`).toBe(true);
    // The tour and the auth example at least.
    expect(blocks.filter((b) => b.section === TOUR && !b.skip).length).toBeGreaterThanOrEqual(7);
    expect(blocks.some((b) => b.section === 'Auth' && !b.skip && /cli -- token/.test(b.script))).toBe(true);
  });

  it('the output matcher takes <token> and … as the README means them', () => {
    expect(matchesOutput(['{"t":"c1.x"}'], ['{"t":"<token>"}'])).toBe(true);
    expect(matchesOutput(['{"id":"5b0e-1","v":1}'], ['{"id":"…","v":1}'])).toBe(true);
    expect(matchesOutput(['a', 'b', 'c'], ['a', '…'])).toBe(true);
    expect(matchesOutput(['a', 'b'], ['a'])).toBe(false);
    expect(matchesOutput(['{"v":2}'], ['{"v":1}'])).toBe(false);
  });
});

describe(`the README's commands on ${driverName}`, () => {
  const databases: TestDatabase[] = [];
  const folders: string[] = [];
  /** An empty database for a server: a PostgreSQL database of its own, or a fresh PGlite folder. */
  async function emptyDatabase(): Promise<Record<string, string>> {
    if (onPostgres) {
      const t = await createTestDatabase({ migrate: false });
      await t.database.close();
      databases.push(t);
      return { DATABASE_URL: (t.options as { url: string }).url };
    }
    const dir = mkdtempSync(join(tmpdir(), 'converge-readme-'));
    folders.push(dir);
    return { DATABASE_URL: '', PGLITE_DIR: join(dir, 'data') };
  }
  afterAll(async () => {
    await Promise.all(databases.map((d) => d.close()));
    for (const dir of folders) rmSync(dir, { recursive: true, force: true });
  });

  async function runBlock(block: Block, env: NodeJS.ProcessEnv, prefix = '', suffix = '') {
    const r = await bash(`${prefix}${block.script}\n${suffix}`, env);
    const output = r.stdout.split('\n').filter((line) => line.trim() !== '' && !isServerLog(line));
    const where = `README.md:${block.line}\n--- output:\n${output.join('\n')}\n--- stderr:\n${r.stderr}`;
    expect(r.code, where).toBe(0);
    if (block.expected) expect(matchesOutput(output, block.expected), `${where}\n--- expected:\n${block.expected.join('\n')}`).toBe(true);
  }

  describe(TOUR, () => {
    let server: ServerProcess;
    let state: string;
    let env: NodeJS.ProcessEnv;
    beforeAll(async () => {
      const database = await emptyDatabase();
      server = await startServer({ ...database, JWT_SECRET: '', LOG_LEVEL: 'warn' });
      const dir = mkdtempSync(join(tmpdir(), 'converge-readme-shell-'));
      folders.push(dir);
      state = join(dir, 'state.sh');
      env = readerEnv({ PORT: new URL(server.origin).port });
    });
    afterAll(() => killServer(server));

    // One shell for the tour: each block starts from the variables the blocks before it left.
    const tour = blocks.filter((b) => b.section === TOUR && !b.skip);
    for (const block of tour) {
      it(`README.md:${block.line}: ${block.script.split('\n')[0]}`, async () => {
        await runBlock(block, env, `set -a\n[ -f "${state}" ] && . "${state}"\n`, `export -p > "${state}"`);
      });
    }
  });

  const others = blocks.filter((b) => b.section !== TOUR && !b.skip);
  for (const block of others) {
    it(
      `README.md:${block.line} (${block.section}): ${block.script.split('\n')[0]}`,
      async () => {
        // A block that starts a server may leave its log in the repository folder, as it would for a reader.
        const logs = ['converge.log'].filter((file) => !existsSync(join(ROOT, file)));
        try {
          await runBlock(block, readerEnv({ PORT: String(await freePort()), ...(await emptyDatabase()) }));
        } finally {
          for (const file of logs) rmSync(join(ROOT, file), { force: true });
        }
      },
      SLOW,
    );
  }
});

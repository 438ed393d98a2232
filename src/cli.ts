// The operator's command line: serve, migrate, the projection admin (status, pause, resume, rebuild),
// and development tokens. Configured by the same environment variables as the server (src/config.ts).
// Run as `converge` (bin/converge.mjs, the compiled dist/cli.js) or `npm run cli --`.
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { TENANT_PATTERN } from './core/tenancy.ts';
import type { Database } from './infra/db/database.ts';

const USAGE = `Usage: converge <command> [options]

Commands:
  serve                        run the server (as npm start)
  migrate                      apply the database migrations in drizzle/
  projections status           each projection's state, position, lag, last error
  projections pause NAME       stop applying events to projection NAME
  projections resume NAME      resume a PAUSED or FAILED projection
  projections rebuild NAME     rebuild projection NAME from the events (blue/green)
  keys rotate                  re-wrap every data key with DATA_KEY_SECRET (the old secret in
                               DATA_KEY_SECRET_PREVIOUS); runs while the servers serve
  token --sub ID --role ROLE   print a bearer token signed with JWT_SECRET (for development)
        [--tenant NAME]        ... acting in tenant NAME (TENANCY=multi: needed but for an operator)
  new domain NAME              write a new domain src/NAME/ (aggregate, command, read model, GraphQL
                               face, specs), register it, generate its migration and the schema
  help                         show this text

Options:
  --json                       projections: JSON lines instead of a table
  --sub ID                     token: the user id (for a customer, the customer id)
  --role ROLE                  token: customer, admin or operator (give it again for more)
  --tenant NAME                token: the tenant claim (1 to 64 of a-z, 0-9 and -)
  --expires DURATION           token: how long it is valid, e.g. 30m, 12h, 7d (default 1h)
  --aggregate NAME             new domain: the aggregate's name (default: NAME without its plural s)
  -h, --help                   show this text

Configuration comes from the environment, as for the server (DATABASE_URL, PGLITE_DIR, JWT_SECRET, ...).
On PGlite (no DATABASE_URL), the projections commands need the data directory to themselves: stop the
server on that PGLITE_DIR first (a rebuild then runs to its end in the command).
`;

type Command =
  | { kind: 'help' }
  | { kind: 'serve' }
  | { kind: 'migrate' }
  | { kind: 'rotate-keys' }
  | { kind: 'status'; json: boolean }
  | { kind: 'pause' | 'resume' | 'rebuild'; name: string; json: boolean }
  | { kind: 'token'; sub: string; roles: string[]; expires: string; tenant: string | undefined }
  | { kind: 'new-domain'; name: string; aggregate: string | undefined };

class UsageError extends Error {}

const parseOptions = (argv: string[]) =>
  parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      sub: { type: 'string' },
      role: { type: 'string', multiple: true },
      expires: { type: 'string' },
      tenant: { type: 'string' },
      aggregate: { type: 'string' },
    },
  });

function parseCommand(argv: string[]): Command {
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions(argv);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: 'help' };
  const [command, sub, name, ...rest] = positionals;
  const json = values.json === true;
  const noJson = (what: string) => {
    if (json) throw new UsageError(`--json is not an option of ${what}`);
  };
  const tokenOptions = ['sub', 'role', 'expires', 'tenant'] as const;
  if (command !== 'token') {
    const given = tokenOptions.find((option) => values[option] !== undefined);
    if (given) throw new UsageError(`--${given} is an option of token only`);
  }
  if (command !== 'new' && values.aggregate !== undefined) throw new UsageError('--aggregate is an option of new domain only');
  switch (command) {
    case undefined:
      throw new UsageError('no command given');
    case 'help':
      return { kind: 'help' };
    case 'serve':
    case 'migrate':
      if (sub !== undefined) throw new UsageError(`${command} takes no arguments`);
      noJson(command);
      return { kind: command };
    case 'projections':
      if (sub === 'status') {
        if (name !== undefined) throw new UsageError('projections status takes no arguments');
        return { kind: 'status', json };
      }
      if (sub === 'pause' || sub === 'resume' || sub === 'rebuild') {
        if (name === undefined) throw new UsageError(`projections ${sub} needs a projection NAME`);
        if (rest.length > 0) throw new UsageError(`projections ${sub} takes one NAME`);
        return { kind: sub, name, json };
      }
      throw new UsageError(sub === undefined ? 'projections needs a subcommand' : `unknown projections subcommand: ${sub}`);
    case 'keys':
      if (sub !== 'rotate')
        throw new UsageError(sub === undefined ? 'keys needs a subcommand: keys rotate' : `unknown keys subcommand: ${sub}`);
      if (name !== undefined) throw new UsageError('keys rotate takes no arguments');
      noJson('keys rotate');
      return { kind: 'rotate-keys' };
    case 'token': {
      if (sub !== undefined) throw new UsageError('token takes options only: --sub ID --role ROLE [--tenant NAME]');
      noJson('token');
      const roles = values.role ?? [];
      if (!values.sub) throw new UsageError('token needs --sub ID (the user id; for a customer, the customer id)');
      if (roles.length === 0) throw new UsageError('token needs --role customer, --role admin or --role operator');
      const unknown = roles.find((role) => role !== 'customer' && role !== 'admin' && role !== 'operator');
      if (unknown) throw new UsageError(`--role must be customer, admin or operator, not ${JSON.stringify(unknown)}`);
      if (values.tenant !== undefined && !TENANT_PATTERN.test(values.tenant))
        throw new UsageError(`--tenant must be 1 to 64 of a-z, 0-9 and -; got ${JSON.stringify(values.tenant)}`);
      const expires = values.expires ?? '1h';
      if (!/^\d+[smhd]$/.test(expires))
        throw new UsageError(`--expires must be a number and a unit (s, m, h or d), such as 1h; got ${JSON.stringify(expires)}`);
      return { kind: 'token', sub: values.sub, roles: [...new Set(roles)], expires, tenant: values.tenant };
    }
    case 'new':
      if (sub !== 'domain')
        throw new UsageError(sub === undefined ? 'new needs what to create: new domain NAME' : `unknown new subcommand: ${sub}`);
      if (name === undefined) throw new UsageError('new domain needs a NAME, such as invoices');
      if (rest.length > 0) throw new UsageError('new domain takes one NAME');
      noJson('new domain');
      return { kind: 'new-domain', name, aggregate: values.aggregate };
    default:
      throw new UsageError(`unknown command: ${command}`);
  }
}

/** Resolves once the text is handed to the OS, so that an exit right after cannot cut it off. */
const write = (stream: NodeJS.WriteStream, text: string) =>
  new Promise<void>((resolve, reject) => stream.write(text, (error) => (error ? reject(error) : resolve())));

/** The exit code, or undefined while the server runs. */
async function main(): Promise<number | undefined> {
  let command: Command;
  try {
    command = parseCommand(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    await write(process.stderr, `converge: ${error.message}\n\n${USAGE}`);
    return 2;
  }
  if (command.kind === 'help') {
    await write(process.stdout, USAGE);
    return 0;
  }
  if (command.kind === 'new-domain') return newDomain(command);
  if (command.kind === 'serve') {
    // main.ts reads the configuration, reports its errors and stops on signals itself.
    await import('./main.ts');
    return undefined;
  }
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    await write(process.stderr, `converge: ${error.message}\n`);
    return 1;
  }
  if (command.kind === 'token') return token(command, config);
  return run(command, config);
}

/** Writes a new domain into this checkout (see src/scaffold/). */
async function newDomain(command: Extract<Command, { kind: 'new-domain' }>): Promise<number> {
  const { fileURLToPath } = await import('node:url');
  const { newDomain, nextSteps, ScaffoldError } = await import('./scaffold/new-domain.ts');
  const { NameError } = await import('./scaffold/names.ts');
  const root = fileURLToPath(new URL('..', import.meta.url));
  try {
    const log = (line: string) => process.stderr.write(`converge: ${line}\n`);
    const result = newDomain(root, command.name, { aggregate: command.aggregate, log });
    await write(process.stdout, `${nextSteps(result).join('\n')}\n`);
    return 0;
  } catch (error) {
    if (!(error instanceof ScaffoldError || error instanceof NameError)) throw error;
    await write(process.stderr, `converge: ${error.message}\n`);
    return 1;
  }
}

/** A development token: HS256 with JWT_SECRET, as the server verifies it. */
async function token(command: Extract<Command, { kind: 'token' }>, config: Config): Promise<number> {
  if (!config.jwtSecret) {
    await write(
      process.stderr,
      'converge: JWT_SECRET is not set, so the server runs in open development mode and needs no token; set JWT_SECRET (32 characters or more) to mint one\n',
    );
    return 1;
  }
  if (config.tenancy === 'multi' && command.tenant === undefined && command.roles.some((role) => role !== 'operator')) {
    await write(
      process.stderr,
      'converge: TENANCY=multi: a customer or admin token needs --tenant NAME (only an operator may have none)\n',
    );
    return 2;
  }
  const { mintToken } = await import('./infra/auth/jwt.ts');
  await write(process.stdout, `${await mintToken(config.jwtSecret, command)}\n`);
  return 0;
}

const code = await main();
// Exit at once: nothing of ours is left open, and a stray handle in a library must not keep an operator waiting.
if (code !== undefined) process.exit(code);

async function run(command: Exclude<Command, { kind: 'help' | 'serve' | 'token' | 'new-domain' }>, config: Config): Promise<number> {
  // Loaded after the configuration is known good, as in main.ts.
  const { openDatabase } = await import('./infra/db/open-database.ts');
  const { databaseLabel } = await import('./infra/db/where.ts');
  const { DataDirectoryInUseError } = await import('./infra/pglite/data-dir-lock.ts');
  const { driverError } = await import('./infra/db/errors.ts');
  const { ConvergeError, UnavailableError } = await import('./core/errors.ts');

  /** Failures an operator can fix get one line, not a stack trace. */
  const explain = (raised: unknown): string | undefined => {
    if (raised instanceof ConfigError) return raised.message;
    const error = driverError(raised);
    if (error instanceof DataDirectoryInUseError || (error instanceof ConvergeError && !(error instanceof UnavailableError)))
      return error.message;
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'ECONNREFUSED') return 'cannot reach the database at DATABASE_URL (connection refused)';
    if (code === 'ENOTFOUND') return 'cannot reach the database at DATABASE_URL (host not found)';
    if (code === 'CONNECT_TIMEOUT') return 'cannot reach the database at DATABASE_URL (timed out)';
    // The server's own answer, e.g. a database that does not exist or a wrong password.
    if ((error as Error | undefined)?.name === 'PostgresError') return `PostgreSQL: ${(error as Error).message}`;
    return undefined;
  };

  // First, on stderr (stdout stays the command's answer): which database this is, so that one read by
  // mistake (no DATABASE_URL, hence the local PGlite) shows at once.
  await write(process.stderr, `converge: database: ${databaseLabel(config.database)}\n`);
  try {
    const database = await openDatabase(config.database);
    try {
      const lines =
        command.kind === 'migrate'
          ? await runMigrate(database)
          : command.kind === 'rotate-keys'
            ? await rotateKeys(database, config)
            : await runProjections(database, config, command);
      await write(process.stdout, lines.map((line) => `${line}\n`).join(''));
      return 0;
    } finally {
      await database.close();
    }
  } catch (error) {
    const message = explain(error);
    if (message === undefined) throw error;
    await write(process.stderr, `converge: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
    return 1;
  }
}

/** Re-wraps every data key with the current master key (see infra/privacy/rotate.ts). */
async function rotateKeys(database: Database, config: Config): Promise<string[]> {
  const { secret, previous } = config.dataKeys;
  if (!secret || !previous) {
    throw new ConfigError(
      'keys rotate needs DATA_KEY_SECRET (the new secret) and DATA_KEY_SECRET_PREVIOUS (the one the keys are wrapped with now)',
    );
  }
  const { migrate } = await import('./infra/db/migrate.ts');
  const { masterKeys } = await import('./infra/privacy/master-key.ts');
  const { rewrapDataKeys } = await import('./infra/privacy/rotate.ts');
  await migrate(database);
  const masters = masterKeys(secret, previous);
  const count = await rewrapDataKeys(database, masters);
  return [
    `re-wrapped ${count} data key${count === 1 ? '' : 's'} with master key ${masters.current.id}; DATA_KEY_SECRET_PREVIOUS may go now`,
  ];
}

async function runMigrate(database: Database): Promise<string[]> {
  const { readFile } = await import('node:fs/promises');
  const { sql } = await import('drizzle-orm');
  const { migrate, MIGRATIONS_FOLDER } = await import('./infra/db/migrate.ts');

  const journal = JSON.parse(await readFile(`${MIGRATIONS_FOLDER}/meta/_journal.json`, 'utf8')) as { entries: unknown[] };
  const applied = async () => {
    const [table] = await database.rows<{ exists: boolean }>(sql`select to_regclass('drizzle.__drizzle_migrations') is not null as exists`);
    if (!table?.exists) return 0;
    const [row] = await database.rows<{ n: number }>(sql`select count(*)::int as n from drizzle.__drizzle_migrations`);
    return row?.n ?? 0;
  };

  const before = await applied();
  await migrate(database);
  const after = await applied();
  const total = journal.entries.length;
  return [
    after > before
      ? `migrations applied: ${after - before} new, ${after} of ${total} in drizzle/`
      : `migrations applied: none new, already up to date with ${total} in drizzle/`,
  ];
}

async function runProjections(
  database: Database,
  config: Config,
  command: Extract<Command, { kind: 'status' | 'pause' | 'resume' | 'rebuild' }>,
): Promise<string[]> {
  const { migrate } = await import('./infra/db/migrate.ts');
  const { createServices } = await import('./services.ts');
  const { SYSTEM_CALLER } = await import('./core/caller.ts');
  const { encodeToken } = await import('./core/position.ts');

  // Idempotent, and serialized with other processes by an advisory lock: safe while servers run.
  await migrate(database);
  // No services.start(): it would LISTEN and (with runProjections) take projection locks. The admin
  // needs neither; a change reaches the process running that projection through NOTIFY.
  const services = createServices(database, {
    runProjections: false,
    tenancy: config.tenancy,
    consistencyTimeoutMs: config.consistencyTimeoutMs,
  });
  // The CLI is an operator tool, run on the server with its database credentials: it acts as the
  // system caller, i.e. as an admin, without a JWT.
  const caller = SYSTEM_CALLER;
  let statuses =
    command.kind === 'status' ? await services.admin.status(caller) : [await services.admin[command.kind](command.name, caller)];
  if (command.kind === 'rebuild' && database.kind === 'pglite') statuses = [await rebuildHere(database, config, command.name)];

  const rows = statuses.map((s) => ({
    name: s.name,
    kind: s.kind,
    state: s.state,
    position: s.position ? encodeToken(s.position) : null,
    lagEvents: s.lagEvents,
    lastError: s.lastError,
    updatedAt: s.updatedAt,
    heldBackBy: s.heldBackBy ?? null,
  }));
  if (command.json) return rows.map((row) => JSON.stringify(row));
  const held = statuses[0]?.heldBackBy;
  const heldLine = held
    ? [
        `every projection waits for an append in flight for ${held.seconds.toFixed(1)} s: backend pid ${held.backendPid}${held.waitingOn ? `, waiting on ${held.waitingOn}` : ''}`,
      ]
    : [];
  return [
    ...table(
      ['NAME', 'KIND', 'STATE', 'POSITION', 'LAG', 'LAST ERROR', 'UPDATED'],
      rows.map((r) => [
        r.name,
        r.kind,
        r.state,
        r.position ?? '-',
        String(r.lagEvents),
        r.lastError === null ? '-' : r.lastError.replace(/\s*\n\s*/g, ' '),
        r.updatedAt ?? '-',
      ]),
    ),
    ...heldLine,
  ];
}

/**
 * On PGlite no server can hold the data folder while the CLI does: the rebuild runs here, to its swap,
 * and its final status is what the command prints.
 */
async function rebuildHere(database: Database, config: Config, name: string) {
  const { createServices } = await import('./services.ts');
  const { SYSTEM_CALLER } = await import('./core/caller.ts');
  const services = createServices(database, {
    runProjections: true,
    tenancy: config.tenancy,
    consistencyTimeoutMs: config.consistencyTimeoutMs,
  });
  await services.start();
  try {
    for (;;) {
      const status = (await services.admin.status(SYSTEM_CALLER)).find((s) => s.name === name)!;
      if (status.state === 'FAILED' || status.state === 'PAUSED' || (status.state === 'RUNNING' && status.rebuildPosition === null))
        return status;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    await services.stop();
  }
}

/** Columns padded to their widest cell, two blanks apart. */
function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows].map((cells) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
}

// Entry point: configuration, the app, and a graceful stop on SIGTERM/SIGINT.
import { ConfigError, loadConfig, type Config } from './config.ts';
import { databaseLabel } from './infra/db/where.ts';
import { assertPortFree, listenRefusal } from './infra/server/port-check.ts';

let config: Config;
try {
  config = loadConfig();
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`converge: ${error.message}\n`);
    process.exit(1);
  }
  throw error;
}

// Before anything else, the database above all: a port in use is one line at once, not after migrations.
try {
  await assertPortFree(config.port, config.host);
} catch (error) {
  const refusal = listenRefusal(error, config.port, config.host);
  if (refusal === undefined) throw error;
  process.stderr.write(`converge: ${refusal}\n`);
  process.exit(1);
}

// Loaded after the configuration is known good, so that a bad value is reported at once.
const { pino } = await import('pino');
const { buildApp } = await import('./app.ts');
const { DataDirectoryInUseError } = await import('./infra/pglite/data-dir-lock.ts');
const { ModuleConflictError } = await import('./core/module.ts');
const { driverError, isDatabaseUnavailable } = await import('./infra/db/errors.ts');
const { traceLogFields } = await import('./infra/observability/tracing.ts');

const log = pino({
  level: config.logLevel,
  base: { service: 'converge' },
  // With tracing on, a line written inside a span names it (trace_id, span_id).
  ...(config.tracing && { mixin: traceLogFields }),
  // Nothing logs credentials; this is the safety net if a header or token ever lands in a line.
  redact: {
    paths: ['authorization', '*.authorization', 'headers.authorization', '*.token', 'token', 'connectionParams'],
    censor: '[redacted]',
  },
});
if (!config.jwtSecret && !config.auth.jwksUrl) {
  log.warn(
    {},
    'OPEN DEVELOPMENT MODE: neither JWT_SECRET nor JWT_JWKS_URL is set, so every caller is an admin. Set one before exposing this server.',
  );
}

// postgres.js 3.4.9 can throw from a timer when a connection's socket closes under a pending write
// (porsager/postgres#1154; its fix is not released). The query involved has already failed with
// CONNECTION_CLOSED, so that one exception is logged, not fatal; anything else is.
process.on('uncaughtException', (error) => {
  if (
    error instanceof TypeError &&
    /reading 'write'/.test(error.message) &&
    /postgres[\\/]src[\\/]connection\.js/.test(error.stack ?? '')
  ) {
    log.warn({ err: error.message }, 'database connection closed during a write (known postgres.js issue); continuing');
    return;
  }
  log.fatal({ err: error }, 'uncaught exception');
  process.exit(1);
});
// A lost database connection may surface as a promise nobody awaits any more; the work that needed it
// has failed (and is retried) already.
process.on('unhandledRejection', (reason) => {
  if (isDatabaseUnavailable(reason)) {
    log.warn({ err: String(reason) }, 'database connection error outside a request; continuing');
    return;
  }
  log.fatal({ err: reason }, 'unhandled promise rejection');
  process.exit(1);
});

/** A start-up failure in one line (the stack is logged at debug level). */
function explain(error: unknown): string {
  if (error instanceof DataDirectoryInUseError || error instanceof ModuleConflictError || error instanceof ConfigError)
    return error.message;
  const cause = driverError(error) as (Error & { code?: unknown; severity?: unknown }) | undefined;
  const code = cause?.code;
  const refusal = listenRefusal(cause, config.port, config.host);
  if (refusal !== undefined) return refusal;
  if (code === 'ECONNREFUSED') return 'cannot reach the database at DATABASE_URL (connection refused)';
  // PostgreSQL's own answer (a database that does not exist, a role refused): check DATABASE_URL.
  if (typeof cause?.severity === 'string') return `PostgreSQL: ${cause.message} (check DATABASE_URL)`;
  return `could not start: ${cause instanceof Error ? cause.message : String(cause)}`;
}

let app: Awaited<ReturnType<typeof buildApp>>;
let url: string;
try {
  app = await buildApp(config, { log });
  try {
    url = await app.start();
  } catch (error) {
    await app.stop().catch(() => {});
    throw error;
  }
} catch (error) {
  log.debug({ err: error }, 'start failed');
  process.stderr.write(`converge: ${explain(error)}\n`);
  process.exit(1);
}
const where = databaseLabel(config.database);
const consoleUrl = config.console ? url.replace(/\/graphql$/, '/console/') : 'off';
log.info(
  { url, database: where, projections: config.projections, graphiql: config.graphiql, console: consoleUrl },
  `Converge is serving ${url}`,
);

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    const force = setTimeout(() => {
      log.error({}, 'did not stop within 10 s; exiting');
      process.exit(1);
    }, 10_000);
    force.unref();
    app.stop().then(
      () => {
        log.info({}, 'stopped');
        process.exit(0);
      },
      (error) => {
        log.error({ err: error }, 'error while stopping');
        process.exit(1);
      },
    );
  });
}

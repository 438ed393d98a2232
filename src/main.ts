// Entry point: configuration, the app, and a graceful stop on SIGTERM/SIGINT.
import { ConfigError, loadConfig, type Config } from './config.ts';

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

// Loaded after the configuration is known good, so that a bad value is reported at once.
const { pino } = await import('pino');
const { buildApp } = await import('./app.ts');
const { DataDirectoryInUseError } = await import('./infra/db/client.ts');

const log = pino({ level: config.logLevel, base: { service: 'converge' } });
if (!config.jwtSecret) {
  log.warn(
    {},
    'OPEN DEVELOPMENT MODE: JWT_SECRET is not set, so every caller is an admin. Set JWT_SECRET before exposing this server.',
  );
}

/** Start-up failures a user can fix get one line, not a stack trace. */
function explain(error: unknown): string | undefined {
  if (error instanceof DataDirectoryInUseError) return error.message;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EADDRINUSE') return `${config.host}:${config.port} is already in use; stop the other server or set PORT`;
  if (code === 'EACCES') return `not allowed to listen on ${config.host}:${config.port}; choose another PORT`;
  if (code === 'ECONNREFUSED') return 'cannot reach the database at DATABASE_URL (connection refused)';
  return undefined;
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
  const message = explain(error);
  if (!message) throw error;
  process.stderr.write(`converge: ${message}\n`);
  process.exit(1);
}
const where = 'url' in config.database ? 'PostgreSQL' : `PGlite at ${config.database.pgliteDir}`;
log.info({ url, database: where, projections: config.projections, graphiql: config.graphiql }, `Converge is serving ${url}`);

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

// Entry point: configuration, the app, and a graceful stop on SIGTERM/SIGINT.
import { pino } from 'pino';
import { buildApp } from './app.ts';
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

const log = pino({ level: config.logLevel, base: { service: 'converge' } });
if (!config.jwtSecret) {
  log.warn(
    {},
    'OPEN DEVELOPMENT MODE: JWT_SECRET is not set, so every caller is an admin. Set JWT_SECRET before exposing this server.',
  );
}

const app = await buildApp(config, { log });
const url = await app.start();
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
      () => process.exit(0),
      (error) => {
        log.error({ err: error }, 'error while stopping');
        process.exit(1);
      },
    );
  });
}

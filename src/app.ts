// The composition root: the modules' services on the database, the GraphQL schema of their faces, and the
// HTTP server in front. buildApp opens the database, applies migrations and puts it all together.
import { sql } from 'drizzle-orm';
import { type Config, ConfigError } from './config.ts';
import { SYSTEM_CALLER } from './core/caller.ts';
import type { Logger } from './core/logger.ts';
import { withTimeout } from './core/with-timeout.ts';
import type { GraphQLServices } from './graphql/context.ts';
import { buildSchema } from './graphql/schema.ts';
import { createGraphQLHandler, GRAPHQL_PATH } from './graphql/yoga.ts';
import { LiveQueries } from './graphql/live-queries.ts';
import { liveSourcesOf } from './graphql/live-sources.ts';
import { GRAPHIQL_EXAMPLE } from './graphiql-example.ts';
import { createAuthenticator } from './infra/auth/jwt.ts';
import type { Database } from './infra/db/database.ts';
import { describeDatabase, openDatabase } from './infra/db/open-database.ts';
import { prepareApiRole } from './infra/db/tenant-scope.ts';
import { migrate, migrationsApplied, pendingMigrations } from './infra/db/migrate.ts';
import { createMetrics } from './infra/observability/metrics.ts';
import { type RunningTracing, startTracing } from './infra/observability/tracing.ts';
import { openReplica } from './infra/postgres/open-replica.ts';
import { createConsoleHandler } from './infra/server/console-assets.ts';
import { createHttpServer, limitRequestBody, traceRequest } from './infra/server/http.ts';
import { MODULES } from './modules.ts';
import { createIntegration } from './integration.ts';
import { createServices, personalProjections, schemasOf, type Services } from './services.ts';
import { developmentSecret, masterKeys } from './infra/privacy/master-key.ts';
import { sealStoredEvents } from './infra/privacy/seal-stored-events.ts';

export type App = {
  services: Services;
  /** The live queries served (what they hold: stats()). */
  live: LiveQueries;
  /** The GraphQL handler as a fetch function (for tests and embedding). */
  fetch: (request: Request) => Promise<Response>;
  /** Listens on config.host:config.port; resolves to the GraphQL URL. */
  start(): Promise<string>;
  stop(): Promise<void>;
};

/**
 * `tracing`: spans go there (tests hand one in); by default as config.tracing says, stopped with the app.
 * `database`: one open already (tests: two apps on one embedded PGlite), left open when the app stops.
 */
export async function buildApp(config: Config, deps: { log: Logger; tracing?: RunningTracing; database?: Database }): Promise<App> {
  const { log } = deps;
  log.info({}, describeDatabase(config.database));
  const tracing = deps.tracing ?? (await startTracing(config.tracing));
  if (config.tracing) log.info({ exporters: config.tracing.exporters, url: config.tracing.url }, 'tracing on');
  const database = deps.database ?? (await openDatabase(config.database));
  try {
    const pending = await pendingMigrations(database);
    if (pending > 0) log.info({ pending }, `applying ${pending} migration${pending === 1 ? '' : 's'}`);
    await migrate(database);
    if (config.tenancy === 'multi') {
      const refusal = await prepareApiRole(database);
      if (refusal) throw new ConfigError(refusal);
    }
  } catch (error) {
    if (!deps.database) await database.close();
    if (!deps.tracing) await tracing.shutdown();
    throw error;
  }
  // Only PGlite may go without DATA_KEY_SECRET (config.ts): its secret then lives in its own folder.
  const { secret } = config.dataKeys;
  if (!secret && !('pgliteDir' in config.database)) {
    await database.close();
    throw new ConfigError('DATA_KEY_SECRET: must be set with DATABASE_URL');
  }
  const dataKeySecret = secret ?? developmentSecret((config.database as { pgliteDir: string }).pgliteDir);
  const masters = masterKeys(dataKeySecret, config.dataKeys.previous);
  try {
    const sealed = await sealStoredEvents(database, schemasOf(MODULES), masters, personalProjections(MODULES));
    if (sealed > 0) log.info({ events: sealed }, `sealed the personal fields of ${sealed} stored events; their read models rebuild`);
  } catch (error) {
    await database.close();
    throw error;
  }
  const replicas = config.replicas.urls.map((url) =>
    openReplica(url, { poolMax: 'url' in config.database ? config.database.poolMax : undefined }),
  );
  if (replicas.length > 0)
    log.info({ replicas: replicas.map((r) => r.name) }, `queries read on ${replicas.length} replica${replicas.length === 1 ? '' : 's'}`);
  // Assigned below; the metrics read projection status through the services at scrape time.
  let services: Services;
  let live: LiveQueries | undefined;
  const metrics = createMetrics({
    projections: () => services.admin.status(SYSTEM_CALLER),
    database: () => database.stats(),
    consistencyWaits: () => services.consistency.waiting(),
    replicas: () => services.replicas?.status() ?? [],
    nats: () => integration?.status(),
    liveQueries: () => live?.stats() ?? { executions: 0, subscribers: 0, keys: 0, projections: 0, runs: 0 },
  });
  const integration =
    config.nats &&
    createIntegration({
      servers: config.nats.servers,
      modules: MODULES.map((m) => m.module),
      tenancy: config.tenancy,
      log,
      observe: metrics.inbound,
      tracing,
    });
  services = createServices(database, {
    replicas:
      replicas.length > 0 ? { connections: replicas, maxLagMs: config.replicas.maxLagMs, waitMs: config.replicas.waitMs } : undefined,
    runProjections: config.projections,
    dataKeySecret,
    previousDataKeySecret: config.dataKeys.previous,
    tenancy: config.tenancy,
    tenantCommandsPerSecond: config.tenantCommandsPerSecond,
    consistencyTimeoutMs: config.consistencyTimeoutMs,
    consistencyMaxWaits: config.consistencyMaxWaits,
    log,
    tracing,
    publisher: integration?.publisher,
    observe: {
      command(info) {
        metrics.command(info.type, info.outcome, info.code, info.durationMs / 1000);
        const line = {
          requestId: info.requestId,
          command: info.type,
          stream: info.streamId,
          version: info.version,
          outcome: info.outcome,
          code: info.code,
          durationMs: Math.round(info.durationMs * 10) / 10,
        };
        if (info.outcome === 'ok') log.info(line, 'command');
        else log.warn(line, 'command');
      },
      append: (durationMs) => metrics.append(durationMs / 1000),
      rateLimited: (tenant) => metrics.rateLimited(tenant),
      waitRefused: () => metrics.waitRefused(),
      read: (read) => metrics.read(read),
    },
  });
  const auth = createAuthenticator(config.auth);
  const schema = buildSchema(MODULES.map((m) => m.graphql));
  // The schema's resolvers type each module's queries themselves (see queriesOf).
  const graphQLServices = services as unknown as GraphQLServices;
  live = new LiveQueries(graphQLServices, liveSourcesOf(schema));
  const yoga = createGraphQLHandler({
    schema,
    services: graphQLServices,
    live,
    authenticate: auth.authenticate,
    bearerTokens: !auth.open,
    graphiql: config.graphiql ? { example: GRAPHIQL_EXAMPLE } : false,
    log,
    observer: metrics,
    tracing,
  });
  const http = createHttpServer({
    yoga,
    metricsToken: config.metricsToken,
    auth,
    metrics,
    log,
    tracing,
    graphqlPath: GRAPHQL_PATH,
    console: createConsoleHandler({ enabled: config.console, log }),
    readiness: async () => {
      const checks: Record<string, boolean | string> = {};
      try {
        // An unreachable database must make /ready answer false quickly, not hang the probe.
        const probe = Promise.all([database.rows<{ ok: number }>(sql`select 1 as ok`), migrationsApplied(database)]);
        const [[row], migrated] = await withTimeout(probe, 2000);
        checks.database = row?.ok === 1;
        checks.migrations = migrated;
      } catch {
        checks.database = false;
      }
      if (config.projections) checks.projections = services.host?.running() ?? false;
      // Replicas do not make the service unready: their reads go to the primary meanwhile.
      const replicaStatus = services.replicas?.status();
      // NATS neither: the publisher catches up and the consumers resume once it is back.
      const nats = integration?.status();
      return {
        ready: Object.values(checks).every((v) => v === true),
        checks,
        ...(replicaStatus && { replicas: replicaStatus }),
        ...(nats && { nats }),
      };
    },
  });
  let started = false;
  return {
    services,
    live,
    async fetch(request) {
      const limited = await limitRequestBody(request);
      if (limited instanceof Response) return limited;
      return traceRequest(tracing, request.method, request.headers.get('traceparent'), async (span) => {
        const response = await yoga.fetch(limited);
        span.setAttributes({ 'http.response.status_code': response.status });
        return response;
      });
    },
    async start() {
      // Listen first: a port in use fails the start before this process takes any projection lock.
      const address = await http.listen(config.port, config.host);
      try {
        await services.start();
      } catch (error) {
        await http.close(0);
        throw error;
      }
      // Inbound messages are consumed where the processors run (PROJECTIONS=on).
      integration?.start(config.projections ? services.commands.dispatch : undefined);
      started = true;
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      return `http://${host}:${address.port}${GRAPHQL_PATH}`;
    },
    async stop() {
      // Requests in flight (commands among them) finish first; then the projection locks are released.
      await http.close();
      if (started) await services.stop();
      await integration?.stop();
      if (!deps.database) await database.close();
      if (!deps.tracing) await tracing.shutdown();
    },
  };
}

// The one composition root. createServices wires the command side, the query side, the projections and
// the consistency tracker on a database; buildApp opens the database and puts the HTTP server in front.
import { sql } from 'drizzle-orm';
import type { Config } from './config.ts';
import { SYSTEM_CALLER, type Caller } from './core/caller.ts';
import { createCommandBus, type CommandBus, type CommandMiddleware } from './core/command-bus.ts';
import { ConvergeError } from './core/errors.ts';
import { withTimeout } from './core/with-timeout.ts';
import { isTransientDbError } from './infra/db/errors.ts';
import type { CommandResult } from './core/command-handler.ts';
import { consistencyMiddleware, createConsistencyTracker, type ConsistencyContext, type ConsistencyTracker } from './core/consistency.ts';
import { createKeyedLock } from './core/keyed-lock.ts';
import type { ProjectionStatus } from './core/projection.ts';
import type { RunnerLog } from './core/projection-runner.ts';
import { createQueryBus, type QueryBus } from './core/query-bus.ts';
import { openDatabase, type Database } from './infra/db/client.ts';
import type { SqlProjection } from './infra/db/executor.ts';
import { migrate, migrationsApplied } from './infra/db/migrate.ts';
import { createHttpServer, limitRequestBody } from './infra/server/http.ts';
import { createAuthenticator } from './infra/auth/jwt.ts';
import { createMetrics } from './infra/observability/metrics.ts';
import { createGraphQLHandler, GRAPHQL_PATH } from './graphql/yoga.ts';
import { createAppendNotifier, createPostgresEventStore, type PostgresEventStore } from './infra/event-store/postgres-event-store.ts';
import { createProjectionAdmin, type ProjectionAdmin } from './infra/projections/admin.ts';
import { createProjectionHost, type ProjectionHost } from './infra/projections/host.ts';
import { startProgressFeed } from './infra/projections/progress-feed.ts';
import type { OrderCommand } from './orders/decider.ts';
import { orderEventSchemas } from './orders/events.ts';
import { orderProjections, registerOrderCommands, registerOrderQueries } from './orders/module.ts';
import { ORDER_QUERY_PROJECTIONS, type OrderQueries } from './orders/queries/index.ts';

export type Queries = OrderQueries & {
  projections: { params: Record<string, never>; result: ProjectionStatus[] };
};

export type QueryContext = { caller: Caller; consistency?: ConsistencyContext };

export type Services = {
  database: Database;
  store: PostgresEventStore;
  commands: CommandBus<OrderCommand, CommandResult>;
  queries: QueryBus<Queries, QueryContext>;
  tracker: ConsistencyTracker;
  admin: ProjectionAdmin;
  /** The names of all projections, whichever process runs them. */
  projectionNames: string[];
  /** Present when this process runs projections (PROJECTIONS=on). */
  host?: ProjectionHost;
  start(): Promise<void>;
  stop(): Promise<void>;
};

/** What the services report as they work (logs and metrics are wired to it in buildApp). */
export type ServicesObserver = {
  command(info: {
    type: string;
    streamId: string | undefined;
    version: number | undefined;
    outcome: 'ok' | 'error';
    code: string;
    durationMs: number;
    requestId: string | undefined;
  }): void;
  append(durationMs: number): void;
};

export type ServicesOptions = {
  runProjections: boolean;
  observe?: ServicesObserver;
  consistencyTimeoutMs: number;
  log?: RunnerLog;
  /** Replaces the domain's projections (tests wrap them to inject faults). */
  projections?: (defaults: SqlProjection[]) => SqlProjection[];
  /** Tuning, mostly for tests. */
  projectionBatchSize?: number;
  /** See ProjectionRunnerDeps.firstBuildAsRebuildFrom. */
  projectionFirstBuildAsRebuildFrom?: number;
  projectionPollMs?: number;
  lockRetryMs?: number;
};

export function createServices(database: Database, options: ServicesOptions): Services {
  const log = options.log;
  // Local runners are woken directly; other processes by a notification sent after the commit.
  const notifier = createAppendNotifier(database, (error) => log?.error('append notification failed', { error: String(error) }));
  let host: ProjectionHost | undefined;
  const store = createPostgresEventStore({
    db: database,
    schemas: orderEventSchemas,
    onAppended: (_result, durationMs) => {
      host?.wake();
      notifier.poke();
      options.observe?.append(durationMs);
    },
  });
  const projections = options.projections ? options.projections(orderProjections()) : orderProjections();
  const projectionNames = projections.map((p) => p.name);
  const tracker = createConsistencyTracker(projectionNames);

  const observe = options.observe;
  const commands = createCommandBus<OrderCommand, CommandResult>({
    middleware: observe ? [observeCommands(observe)] : [],
  });
  registerOrderCommands(commands, { store, streamLock: createKeyedLock() });

  const queries = createQueryBus<Queries, QueryContext>({
    middleware: [consistencyMiddleware(tracker, options.consistencyTimeoutMs, ORDER_QUERY_PROJECTIONS)],
  });
  registerOrderQueries(queries, database, store);
  const admin = createProjectionAdmin(database, store, projectionNames);
  queries.register('projections', (_params, { caller }) => admin.status(caller));

  host = options.runProjections
    ? createProjectionHost({
        database,
        store,
        projections,
        tracker,
        log,
        batchSize: options.projectionBatchSize,
        firstBuildAsRebuildFrom: options.projectionFirstBuildAsRebuildFrom,
        pollMs: options.projectionPollMs,
        lockRetryMs: options.lockRetryMs,
      })
    : undefined;

  let stopFeed: (() => Promise<void>) | undefined;
  return {
    database,
    store,
    commands,
    queries,
    tracker,
    admin,
    projectionNames,
    host,
    async start() {
      await admin.ensure(); // every projection has its row
      stopFeed = await startProgressFeed(database, tracker, (error) =>
        log?.error('progress notification failed', { error: String(error) }),
      );
      await host?.start();
    },
    async stop() {
      await host?.stop();
      // The connection may be gone already (that is often why we stop); nothing is left to undo then.
      await stopFeed?.().catch(() => {});
    },
  };
}

/** Reports each command's type, stream, resulting version, outcome (with the error code) and duration. */
function observeCommands(observe: ServicesObserver): CommandMiddleware<OrderCommand, CommandResult> {
  return async (command, next) => {
    const started = performance.now();
    const base = { type: command.type, requestId: command.metadata.correlationId };
    const target = command.type === 'CreateOrder' ? command.metadata.newId : command.data.orderId;
    try {
      const result = await next(command);
      observe.command({ ...base, streamId: result.streamId, version: result.version, outcome: 'ok', code: 'OK', durationMs: performance.now() - started });
      return result;
    } catch (error) {
      const code = error instanceof ConvergeError ? error.code : isTransientDbError(error) ? 'SERVICE_UNAVAILABLE' : 'INTERNAL_SERVER_ERROR';
      observe.command({ ...base, streamId: target, version: undefined, outcome: 'error', code, durationMs: performance.now() - started });
      throw error;
    }
  };
}

/** The slice of pino the app uses; `child` adds bindings (such as the request id) to every line. */
export type Logger = {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
};

export type App = {
  services: Services;
  /** The GraphQL handler as a fetch function (for tests and embedding). */
  fetch: (request: Request) => Promise<Response>;
  /** Listens on config.host:config.port; resolves to the GraphQL URL. */
  start(): Promise<string>;
  stop(): Promise<void>;
};

/** Logs nothing (tests, benchmarks). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silentLogger };

/** Opens the database, applies migrations, starts projections (where on) and builds the HTTP server. */
export async function buildApp(config: Config, deps: { log: Logger }): Promise<App> {
  const { log } = deps;
  const database = await openDatabase(config.database);
  try {
    await migrate(database);
  } catch (error) {
    await database.close();
    throw error;
  }
  // Assigned below; the metrics read projection status through the services at scrape time.
  let services: Services;
  const metrics = createMetrics({
    projections: () => services.admin.status(SYSTEM_CALLER),
    database: () => database.stats(),
  });
  services = createServices(database, {
    runProjections: config.projections,
    consistencyTimeoutMs: config.consistencyTimeoutMs,
    log: {
      info: (message, details) => log.info(details ?? {}, message),
      error: (message, details) => log.error(details ?? {}, message),
    },
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
    },
  });
  const auth = createAuthenticator(config.jwtSecret);
  const yoga = createGraphQLHandler({ services, auth, graphiql: config.graphiql, log, metrics });
  const http = createHttpServer({
    yoga,
    auth,
    metrics,
    log,
    graphqlPath: GRAPHQL_PATH,
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
      return { ready: Object.values(checks).every((v) => v === true), checks };
    },
  });
  let started = false;
  return {
    services,
    async fetch(request) {
      const limited = await limitRequestBody(request);
      return limited instanceof Response ? limited : yoga.fetch(limited);
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
      started = true;
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      return `http://${host}:${address.port}${GRAPHQL_PATH}`;
    },
    async stop() {
      // Requests in flight (commands among them) finish first; then the projection locks are released.
      await http.close();
      if (started) await services.stop();
      await database.close();
    },
  };
}

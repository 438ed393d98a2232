// The services of the composition root: the command side, the query side, the projections and the
// consistency tracker, wired on a database from the domain modules.
import { createCommandBus, type CommandBus, type CommandMiddleware } from './core/command-bus.ts';
import type { CommandResult } from './core/command-handler.ts';
import { createConsistencyWaits, type ConsistencyWaits } from './core/consistency-middleware.ts';
import { createConsistencyTracker, type ConsistencyTracker } from './core/consistency-tracker.ts';
import { ConvergeError } from './core/errors.ts';
import { freshRead } from './core/fresh-read.ts';
import type { EventSchemas } from './core/event-store.ts';
import { createKeyedLock } from './core/keyed-lock.ts';
import { errorText, silentLogger, type Logger } from './core/logger.ts';
import type { Command } from './core/messages.ts';
import { assertDistinctModules, registerAggregate, type Aggregate, type DomainModule } from './core/module.ts';
import type { Position } from './core/position.ts';
import { runAsProjection, type ProcessManager } from './core/process-manager.ts';
import type { ProcessorKind, ProjectionAdmin } from './core/projection.ts';
import { publicationsOf } from './core/public-events.ts';
import { type IntegrationBroker, type PublisherOptions, runAsPublisher } from './core/publisher.ts';
import { createQueryBus, type QueryBus, type QueryMap } from './core/query-bus.ts';
import type { QueryContext } from './core/query-context.ts';
import { retryUnavailableReads } from './core/read-retry.ts';
import type { SqlProjection } from './core/sql-projection.ts';
import { createStreamChanges, type StreamChanges } from './core/stream-changes.ts';
import { retryUnavailableCommands } from './core/command-retry.ts';
import { traceCommands } from './core/command-tracing.ts';
import { noTracing, type Tracing } from './core/tracing.ts';
import { tenantRateLimit } from './core/rate-limit.ts';
import { inCallersTenant, tenantCommands, tenantQueries } from './core/tenant-scope.ts';
import { DEFAULT_TENANT, scopeEveryTenant, type Tenancy } from './core/tenancy.ts';
import { assertAdmin, type Caller } from './core/caller.ts';
import type { Database } from './infra/db/database.ts';
import { tablesWithoutTenants, tenantScoped, tenantScopedExecutor } from './infra/db/tenant-scope.ts';
import { createAppendNotifier } from './infra/event-store/append-notifier.ts';
import { createPostgresEventStore, type PostgresEventStore } from './infra/event-store/postgres-event-store.ts';
import { createSnapshotStore } from './infra/event-store/snapshot-store.ts';
import { createDataKeyStore } from './infra/privacy/data-keys.ts';
import { FORGET_CHANNEL, forgetSubject } from './infra/privacy/forget.ts';
import { masterKeys, TEST_DATA_KEY_SECRET } from './infra/privacy/master-key.ts';
import { createProjectionAdmin } from './infra/projections/admin.ts';
import { createProjectionHost, type ProjectionHost } from './infra/projections/host.ts';
import { startProgressFeed } from './infra/projections/progress-feed.ts';
import { createCommitMarks } from './infra/replicas/commit-marks.ts';
import { createReadRouter, routedQuery, type ReadObserver } from './infra/replicas/read-router.ts';
import type { OpenedReplica } from './infra/postgres/open-replica.ts';
import { createReplicaSet, type ReplicaSet } from './infra/replicas/replica-set.ts';
import { MODULES, type AppQueries } from './modules.ts';

export type Services<Q extends QueryMap = AppQueries> = {
  database: Database;
  store: PostgresEventStore;
  commands: CommandBus<Command, CommandResult>;
  queries: QueryBus<Q, QueryContext>;
  tracker: ConsistencyTracker;
  /** Which streams each projection advance covered (read once per advance, for every listener). */
  changes: StreamChanges;
  /** Read-your-writes waits of queries: the token check, and how many wait now. */
  consistency: ConsistencyWaits;
  admin: ProjectionAdmin;
  /** The names of all projections, whichever process runs them. */
  projectionNames: string[];
  headPosition(): Promise<Position | null>;
  /** Personal data: opening sealed values at the edge, and forgetting a subject (docs/decisions/privacy.md). */
  personal: PersonalData;
  /** Present when this process runs projections (PROJECTIONS=on). */
  host?: ProjectionHost;
  /** Present when queries read on replicas (DATABASE_REPLICA_URLS). */
  replicas?: ReplicaSet;
  start(): Promise<void>;
  stop(): Promise<void>;
};

export type PersonalData = {
  /** A sealed value's clear text, or null when its key is gone; in the caller's tenant. */
  open(sealed: string, caller: Caller): Promise<string | null>;
  /** Destroys the subject's keys (admin); the position of the PersonalDataForgotten event that says so. */
  forget(subject: string, caller: Caller, now: Date): Promise<Position>;
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
  /** A tenant's command refused for TENANT_COMMANDS_PER_SECOND. */
  rateLimited?(tenant: string): void;
  /** A query answered stale at once: CONSISTENCY_MAX_WAITS were waiting already. */
  waitRefused(): void;
  /** Where a query read, when there are replicas. */
  read?: ReadObserver;
};

export type ServicesOptions = {
  runProjections: boolean;
  /** DATA_KEY_SECRET (and DATA_KEY_SECRET_PREVIOUS during a rotation); a fixed test secret when absent. */
  dataKeySecret?: string;
  previousDataKeySecret?: string;
  /** TENANCY (single by default): with multi, the API's statements run under row-level security (infra/db/tenant-scope.ts). */
  tenancy?: Tenancy;
  /** TENANT_COMMANDS_PER_SECOND: each tenant's commands over it are RATE_LIMITED (off when absent). */
  tenantCommandsPerSecond?: number;
  consistencyTimeoutMs: number;
  /** Queries that may wait for a token at once in this process (1000 by default). */
  consistencyMaxWaits?: number;
  /** The domains (every module of src/modules.ts by default). */
  modules?: readonly DomainModule[];
  observe?: ServicesObserver;
  log?: Logger;
  /** Spans of commands, projection steps, process managers' commands, publishes and read-your-writes waits (tracing off by default). */
  tracing?: Tracing;
  /** Replaces the modules' projections (tests wrap them to inject faults). */
  projections?: (defaults: SqlProjection[]) => SqlProjection[];
  /** Publishes the modules' public events to this broker (NATS_URL: see integration.ts). */
  publisher?: PublisherOptions & { broker: IntegrationBroker };
  /** Hot-standby replicas of `database` for the queries (PostgreSQL only; see infra/replicas/). */
  replicas?: { connections: readonly OpenedReplica[]; maxLagMs: number; waitMs: number; checkMs?: number };
  /** Tuning, mostly for tests. */
  projectionBatchSize?: number;
  /** See ProjectionRunnerDeps.firstBuildAsRebuildFrom. */
  projectionFirstBuildAsRebuildFrom?: number;
  projectionPollMs?: number;
  lockRetryMs?: number;
};

export function createServices(database: Database, options: ServicesOptions): Services {
  const log = options.log ?? silentLogger;
  const tracing = options.tracing ?? noTracing;
  const modules = options.modules ?? MODULES.map((m) => m.module);
  assertDistinctModules(modules);
  const schemas = schemasOf(modules.map((module) => ({ module })));
  const tenancy = options.tenancy ?? 'single';
  if (tenancy === 'multi') scopeEveryTenant();
  // What the API's commands and queries run on; projections, operators and the log's head use `database`.
  const api = tenancy === 'multi' ? tenantScoped(database) : database;
  // Local runners are woken directly; other processes by a notification sent after the commit.
  const notifier = createAppendNotifier(database, (error) => log.error({ error: errorText(error) }, 'append notification failed'));
  let host: ProjectionHost | undefined;
  const keys = createDataKeyStore(api, masterKeys(options.dataKeySecret ?? TEST_DATA_KEY_SECRET, options.previousDataKeySecret));
  const store = createPostgresEventStore({
    db: api,
    schemas,
    personal: keys,
    onAppended: (result, durationMs) => {
      // A read-your-writes wait on this append's token then needs no read of the log's head.
      consistency.committed(result.position);
      host?.wake();
      notifier.poke();
      options.observe?.append(durationMs);
    },
  });
  const aggregates = modules.flatMap((m) => m.aggregates);
  const limit = options.tenantCommandsPerSecond;
  const commands = createCommandBus<Command, CommandResult>({
    middleware: [
      // Outermost: a command's span holds everything of it, a refusal for the rate included.
      ...(tracing.enabled ? [traceCommands<Command>(tracing)] : []),
      tenantCommands(tenancy),
      ...(limit ? [tenantRateLimit<Command, CommandResult>({ perSecond: limit, onLimited: options.observe?.rateLimited })] : []),
      ...(options.observe ? [observeCommands(options.observe, aggregates)] : []),
      // Innermost: each try is a new run of the handler; what the caller hears is the last one's.
      retryUnavailableCommands<Command, CommandResult>({ timeoutMs: options.consistencyTimeoutMs, tracing }),
    ],
  });

  // Process managers run as projections whose effects are commands.
  const processManagers = modules.flatMap((m) => m.processManagers ?? []);
  const defaults = [
    ...modules.flatMap((m) => m.projections),
    ...processManagers.map((pm) => runAsProjection(pm, commands.dispatch, store, tracing)),
    ...(options.publisher ? [runAsPublisher(publicationsOf(modules), options.publisher.broker, { tracing, ...options.publisher })] : []),
  ];
  const projections = options.projections ? options.projections(defaults) : defaults;
  const projectionNames = projections.map((p) => p.name);
  const running = processManagers.filter((pm) => projectionNames.includes(pm.name));
  const tracker = createConsistencyTracker(projectionNames, followers(projections, running));
  const streamLock = createKeyedLock();
  // A decision that reads what process managers record about its stream (an order's fulfilment) first
  // waits for those that react to the stream's events, at most as long as a read-your-writes wait.
  const awaitReactions = async (after: Position, eventTypes: readonly string[]) => {
    const reacting = running.filter((pm) => eventTypes.some((type) => pm.handles.has(type))).map((pm) => pm.name);
    return reacting.length === 0 || !(await tracker.waitFor(after, reacting, options.consistencyTimeoutMs)).stale;
  };
  const snapshots = createSnapshotStore(api);
  for (const aggregate of aggregates) registerAggregate(commands, aggregate, { store, streamLock, awaitReactions, snapshots, tracing });

  const definitions = Object.fromEntries(modules.flatMap((m) => Object.entries(m.queries)));
  const consistency = createConsistencyWaits(tracker, {
    timeoutMs: options.consistencyTimeoutMs,
    projectionsBehind: Object.fromEntries(Object.entries(definitions).map(([name, q]) => [name, q.projections])),
    lastPosition: () => store.lastPosition(),
    maxWaits: options.consistencyMaxWaits ?? 1000,
    onWaitRefused: () => options.observe?.waitRefused(),
    tracing,
  });
  // Outermost, so that a read-your-writes wait whose token check lost its connection is tried again too.
  const readRetry = retryUnavailableReads({ timeoutMs: options.consistencyTimeoutMs });
  const queries = createQueryBus<QueryMap, QueryContext>({ middleware: [readRetry, tenantQueries(tenancy), consistency.middleware] });
  const reads = options.replicas && readsOnReplicas(database, tracker, { ...options.replicas, tenancy }, log);
  for (const [name, query] of Object.entries(definitions)) {
    const deps = { db: api, store };
    queries.register(name, reads ? routedQuery(query, deps, { ...reads, observe: options.observe?.read }) : query.create(deps));
  }
  const kinds: Record<string, ProcessorKind> = Object.fromEntries(projections.map((p) => [p.name, p.kind ?? 'PROJECTION']));
  const admin = createProjectionAdmin(database, projectionNames, kinds, tenancy);

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
        commitMarks: reads !== undefined,
        tracing,
      })
    : undefined;

  const personal: PersonalData = {
    open: (sealed, caller) => inCallersTenant(caller, tenancy, 'read personal data', () => keys.open(sealed)),
    async forget(subject, caller, now) {
      assertAdmin(caller, 'forget a customer');
      const { position, keyIds } = await inCallersTenant(caller, tenancy, 'forget a customer', () =>
        forgetSubject(api, schemas, subject, now),
      );
      keys.evict(caller.tenant ?? DEFAULT_TENANT, subject, keyIds); // other processes hear it from FORGET_CHANNEL
      host?.wake();
      notifier.poke();
      return position;
    },
  };

  let stopFeed: (() => Promise<void>) | undefined;
  let stopForgets: (() => Promise<void>) | undefined;
  async function stop() {
    await host?.stop();
    await stopForgets?.().catch(() => {});
    stopForgets = undefined;
    // The connection may be gone already (that is often why we stop); nothing is left to undo then.
    await stopFeed?.().catch(() => {});
    stopFeed = undefined;
    await reads?.marks.stop().catch(() => {});
    await reads?.replicas.close();
  }
  return {
    database,
    store,
    commands,
    queries: queries as unknown as QueryBus<AppQueries, QueryContext>,
    tracker,
    changes: createStreamChanges(tracker, (from, to, limit) => store.streamsBetween(from, to, limit)),
    consistency,
    admin,
    projectionNames,
    personal,
    // Every projectionProgress subscriber asks on each tick: one read answers them all.
    headPosition: freshRead(() => store.headPosition()),
    host,
    replicas: reads?.replicas,
    async start() {
      try {
        const untenanted = await tablesWithoutTenants(database, [...new Set(projections.flatMap((p) => p.tables))]);
        if (untenanted.length > 0) {
          throw new Error(
            `read-model table ${untenanted.join(', ')} carries no tenants: its migration must end with SELECT converge_tenant_table('${untenanted[0]}') (docs/architecture.md, Adding a domain)`,
          );
        }
        await admin.ensure(); // every projection has its row
        // Before the progress feed: on the one listening connection a forget's notification then always
        // arrives before the progress that passes its event, so no cached key outlives a read after it.
        stopForgets = await database.listen(
          FORGET_CHANNEL,
          (payload) => {
            const [tenant, subject, keyIds] = JSON.parse(payload) as [string, string, string[]];
            keys.evict(tenant, subject, keyIds);
          },
          // A notification may have been lost while the listener was away: forget every cached key.
          () => keys.evictAll(),
        );
        stopFeed = await startProgressFeed(database, tracker, (error) =>
          log.error({ error: errorText(error) }, 'progress notification failed'),
        );
        await reads?.marks.start();
        await reads?.replicas.start();
        await host?.start();
      } catch (error) {
        await stop(); // what did start is undone: the caller will not call stop
        throw error;
      }
    },
    stop,
  };
}

/** Every module's event schemas, by type. */
export const schemasOf = (modules: readonly { module: DomainModule }[]): EventSchemas =>
  Object.assign({}, ...modules.map((m) => m.module.events));

/** The projections that handle an event type with personal fields (rebuilt when stored events are sealed). */
export function personalProjections(modules: readonly { module: DomainModule }[]): string[] {
  const schemas = schemasOf(modules);
  return modules
    .flatMap((m) => m.module.projections)
    .filter((p) => [...p.handles].some((type) => schemas[type]?.personal))
    .map((p) => p.name);
}

/** The replica set, the commit marks and the router that picks a query's database (infra/replicas/). */
function readsOnReplicas(
  database: Database,
  tracker: ConsistencyTracker,
  options: NonNullable<ServicesOptions['replicas']> & { tenancy: Tenancy },
  log: Logger,
) {
  const replicas = createReplicaSet({
    replicas:
      options.tenancy === 'multi'
        ? options.connections.map((c) => ({ ...c, executor: tenantScopedExecutor({ ...c.executor, transaction: c.transaction }) }))
        : options.connections,
    primary: database,
    maxLagMs: options.maxLagMs,
    checkMs: options.checkMs,
    log,
  });
  const marks = createCommitMarks(database, (error) => log.error({ error: errorText(error) }, 'commit mark not read'));
  const route = createReadRouter({ replicas, marks, tracker, waitMs: options.waitMs });
  return { replicas, marks, route };
}

/** For each projection, the process managers whose effects it handles (see the consistency tracker). */
function followers(projections: readonly SqlProjection[], processManagers: readonly ProcessManager[]) {
  return Object.fromEntries(
    projections.map((p) => [
      p.name,
      processManagers.filter((pm) => pm.name !== p.name && pm.effects.some((type) => p.handles.has(type))).map((pm) => pm.name),
    ]),
  );
}

/** Reports each command's type, stream, resulting version, outcome (with the error code) and duration. */
function observeCommands(
  observe: ServicesObserver,
  aggregates: readonly Aggregate<any, any, any>[],
): CommandMiddleware<Command, CommandResult> {
  const streamOf = new Map(aggregates.flatMap((a) => Object.keys(a.inputs).map((type) => [type, (c: Command) => a.streamId(c)] as const)));
  return async (command, next) => {
    const started = performance.now();
    const base = { type: command.type, requestId: command.metadata.correlationId };
    try {
      const result = await next(command);
      observe.command({
        ...base,
        streamId: result.streamId,
        version: result.version,
        outcome: 'ok',
        code: 'OK',
        durationMs: performance.now() - started,
      });
      return result;
    } catch (error) {
      const code = error instanceof ConvergeError ? error.code : 'INTERNAL_SERVER_ERROR';
      observe.command({
        ...base,
        streamId: streamOf.get(command.type)?.(command),
        version: undefined,
        outcome: 'error',
        code,
        durationMs: performance.now() - started,
      });
      throw error;
    }
  };
}

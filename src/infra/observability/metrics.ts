// Prometheus metrics (prom-client) on a registry of this app's own: HTTP and GraphQL traffic, command
// outcomes, append latency, projection progress and state, WebSocket connections and subscriptions,
// database pool use, NATS and the inbound messages (dead letters among them). Projection and pool figures are read at scrape time.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ProjectionStatus } from '../../core/projection.ts';
import type { ReplicaStatus } from '../replicas/replica-set.ts';

const STATES = ['RUNNING', 'PAUSED', 'REBUILDING', 'FAILED'] as const;
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export type MetricsSources = {
  projections(): Promise<ProjectionStatus[]>;
  database(): { inFlight: number; poolMax: number };
  /** Queries waiting for a consistency token now. */
  consistencyWaits(): number;
  /** The replicas queries read on (none without DATABASE_REPLICA_URLS). */
  replicas?(): ReplicaStatus[];
  /** What live queries hold now (shared executions, their clients, read-model keys watched, projections followed) and runs so far. */
  liveQueries?(): Record<'executions' | 'subscribers' | 'keys' | 'projections' | 'runs', number>;
  /** Whether NATS is connected (only with NATS_URL). */
  nats?(): { connected: boolean } | undefined;
};

export type Metrics = ReturnType<typeof createMetrics>;

export function createMetrics(sources: MetricsSources) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'converge_' });

  const httpRequests = new Counter({
    name: 'converge_http_requests_total',
    help: 'HTTP requests by route, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: 'converge_http_request_duration_seconds',
    help: 'HTTP request latency (until the response is finished; streams count until they end)',
    labelNames: ['route', 'method'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const operations = new Counter({
    name: 'converge_graphql_operations_total',
    help: 'GraphQL operations by type, name and outcome',
    labelNames: ['type', 'name', 'outcome'] as const,
    registers: [registry],
  });
  const operationDuration = new Histogram({
    name: 'converge_graphql_operation_duration_seconds',
    help: 'GraphQL execution latency by operation type and name',
    labelNames: ['type', 'name'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const commands = new Counter({
    name: 'converge_commands_total',
    help: 'Commands by type, outcome (ok or error) and error code',
    labelNames: ['type', 'outcome', 'code'] as const,
    registers: [registry],
  });
  const commandDuration = new Histogram({
    name: 'converge_command_duration_seconds',
    help: 'Command handling latency by type',
    labelNames: ['type'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const appendDuration = new Histogram({
    name: 'converge_event_store_append_duration_seconds',
    help: 'Event store append latency (one statement, committed)',
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const wsConnections = new Gauge({
    name: 'converge_websocket_connections',
    help: 'Open graphql-ws connections',
    registers: [registry],
  });
  const subscriptions = new Gauge({
    name: 'converge_subscriptions_active',
    help: 'Active subscriptions (WebSocket and SSE)',
    labelNames: ['name'] as const,
    registers: [registry],
  });

  // One read of the projections per scrape, shared by the four projection gauges (each collects itself).
  let snapshot: { at: number; statuses: Promise<ProjectionStatus[] | undefined> } | undefined;
  const projectionStatuses = () => {
    if (!snapshot || Date.now() - snapshot.at > 250) {
      // The database may be away: /ready says so; the scrape still answers, without these figures.
      snapshot = { at: Date.now(), statuses: sources.projections().catch(() => undefined) };
    }
    return snapshot.statuses;
  };
  const projectionGauge = (
    name: string,
    help: string,
    labelNames: readonly string[],
    fill: (gauge: Gauge<string>, status: ProjectionStatus) => void,
  ) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        this.reset();
        for (const status of (await projectionStatuses()) ?? []) fill(this, status);
      },
    });
  projectionGauge('converge_projection_position', 'Global position of the last event the projection processed', ['projection'], (g, s) =>
    // Above 2^53 this loses precision: fine for a gauge, never used for ordering.
    g.set({ projection: s.name }, s.position ? Number(s.position.pos) : 0),
  );
  projectionGauge('converge_projection_lag_events', 'Events appended that the projection has not processed', ['projection'], (g, s) =>
    g.set({ projection: s.name }, s.lagEvents),
  );
  projectionGauge(
    'converge_projection_lag_seconds',
    'Age of the oldest event the projection has not processed (0 when caught up)',
    ['projection'],
    (g, s) => g.set({ projection: s.name }, s.lagSeconds),
  );
  projectionGauge('converge_projection_state', 'Projection state: 1 for the current one', ['projection', 'state'], (g, s) => {
    for (const state of STATES) g.set({ projection: s.name, state }, s.state === state ? 1 : 0);
  });
  new Gauge({
    name: 'converge_consistency_waits',
    help: 'Queries waiting for their consistency token (after:, the session token) now',
    registers: [registry],
    collect() {
      this.set(sources.consistencyWaits());
    },
  });
  new Gauge({
    name: 'converge_live_queries',
    help: 'Live queries now: executions (shared by identical ones), subscribers, read-model keys watched, projections followed; and runs since start',
    labelNames: ['what'],
    registers: [registry],
    collect() {
      for (const [what, n] of Object.entries(sources.liveQueries?.() ?? {})) this.set({ what }, n);
    },
  });
  const rateLimited = new Counter({
    name: 'converge_commands_rate_limited_total',
    help: 'Commands refused for TENANT_COMMANDS_PER_SECOND, by tenant',
    labelNames: ['tenant'],
    registers: [registry],
  });
  const waitsRefused = new Counter({
    name: 'converge_consistency_waits_refused_total',
    help: 'Queries answered stale at once because CONSISTENCY_MAX_WAITS were waiting already',
    registers: [registry],
  });
  new Gauge({
    name: 'converge_event_horizon_held_seconds',
    help: 'How long the oldest append in flight has held every projection back (0 when none has for a second)',
    registers: [registry],
    async collect() {
      this.set((await projectionStatuses())?.[0]?.heldBackBy?.seconds ?? 0);
    },
  });
  new Gauge({
    name: 'converge_db_queries_in_flight',
    help: 'Database statements and transactions in progress',
    registers: [registry],
    collect() {
      this.set(sources.database().inFlight);
    },
  });
  new Gauge({
    name: 'converge_db_pool_max',
    help: 'Connections the database pool may open',
    registers: [registry],
    collect() {
      this.set(sources.database().poolMax);
    },
  });

  new Gauge({
    name: 'converge_replica_in_rotation',
    help: 'Whether queries read on the replica now (1) or not (0: down, lagging or promoted away)',
    labelNames: ['replica', 'state'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const r of sources.replicas?.() ?? []) this.set({ replica: r.name, state: r.state }, r.state === 'IN_ROTATION' ? 1 : 0);
    },
  });
  new Gauge({
    name: 'converge_replica_lag_seconds',
    help: 'How far behind the primary the replica was at its last check (0 when it had replayed all the primary had flushed)',
    labelNames: ['replica'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const r of sources.replicas?.() ?? []) if (r.lagMs !== null) this.set({ replica: r.name }, r.lagMs / 1000);
    },
  });
  const reads = new Counter({
    name: 'converge_query_reads_total',
    help: 'Queries by where they read (replica or primary), with a token or not, and why one with a token read the primary',
    labelNames: ['target', 'token', 'fallback'] as const,
    registers: [registry],
  });

  // Integration events (NATS_URL): the publisher's lag is the projection gauges' (projection="integration_events").
  new Gauge({
    name: 'converge_nats_connected',
    help: 'Whether the NATS connection is up (1) or not (0); absent without NATS_URL',
    registers: [registry],
    collect() {
      this.reset();
      const nats = sources.nats?.();
      if (nats) this.set(nats.connected ? 1 : 0);
    },
  });
  const inbound = new Counter({
    name: 'converge_inbound_messages_total',
    help: 'Inbound messages by subject and outcome (applied, dead: dead-lettered, with the error code; retried: delivered again)',
    labelNames: ['subject', 'outcome', 'code'] as const,
    registers: [registry],
  });

  return {
    registry,
    contentType: registry.contentType,
    render: () => registry.metrics(),
    httpRequest(route: string, method: string, status: number, seconds: number) {
      httpRequests.inc({ route, method, status: String(status) });
      httpDuration.observe({ route, method }, seconds);
    },
    operation(type: string, name: string, outcome: 'ok' | 'error', seconds: number) {
      operations.inc({ type, name, outcome });
      operationDuration.observe({ type, name }, seconds);
    },
    command(type: string, outcome: 'ok' | 'error', code: string, seconds: number) {
      commands.inc({ type, outcome, code });
      commandDuration.observe({ type }, seconds);
    },
    append(seconds: number) {
      appendDuration.observe(seconds);
    },
    waitRefused: () => waitsRefused.inc(),
    rateLimited: (tenant: string) => rateLimited.inc({ tenant }),
    read(read: { onReplica: boolean; withToken: boolean; fallback?: string }) {
      reads.inc({ target: read.onReplica ? 'replica' : 'primary', token: read.withToken ? 'yes' : 'no', fallback: read.fallback ?? '' });
    },
    inbound(subject: string, outcome: 'applied' | 'dead' | 'retried', code = '') {
      inbound.inc({ subject, outcome, code });
    },
    webSocketOpened: () => wsConnections.inc(),
    webSocketClosed: () => wsConnections.dec(),
    subscriptionStarted: (name: string) => subscriptions.inc({ name }),
    subscriptionEnded: (name: string) => subscriptions.dec({ name }),
  };
}

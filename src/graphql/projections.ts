// The projections' GraphQL face: status, the admin operations and the projectionProgress subscription; and
// what an operator (the console) watches beside them: the event log's head and the replicas.
import { Repeater } from 'graphql-yoga';
import { NotFoundError } from '../core/errors.ts';
import { encodeToken, type Position } from '../core/position.ts';
import type { LogHead, ProjectionStatus } from '../core/projection.ts';
import type { Builder } from './builder.ts';
import type { GraphQLContext, ReplicaView } from './context.ts';
import { type Progress, ProgressStream } from './progress-fanout.ts';
import { superviseSubscription } from './subscription.ts';

/** The longest a timer runs: a subscription's waits end with it, not by time. */
const FOREVER_MS = 2 ** 31 - 1;

/** How often the eventLog subscription samples the head (no notification of appends reaches every process). */
const LOG_SAMPLE_MS = 1000;

export function projectionsGraphQL(builder: Builder): void {
  const ProjectionStateEnum = builder.enumType('ProjectionState', { values: ['RUNNING', 'PAUSED', 'REBUILDING', 'FAILED'] as const });
  const ProcessorKindEnum = builder.enumType('ProcessorKind', {
    description:
      'PROCESS_MANAGER: its effects are commands, not tables; PUBLISHER: its effects are integration messages (NATS JetStream). Neither can be rebuilt.',
    values: ['PROJECTION', 'PROCESS_MANAGER', 'PUBLISHER'] as const,
  });

  const ProjectionStatusRef = builder.objectRef<ProjectionStatus>('ProjectionStatus').implement({
    fields: (t) => ({
      name: t.exposeString('name'),
      kind: t.field({ type: ProcessorKindEnum, resolve: (s) => s.kind }),
      state: t.field({ type: ProjectionStateEnum, resolve: (s) => s.state }),
      position: t.field({
        type: 'ConsistencyToken',
        nullable: true,
        description: 'The last event processed; null before the first.',
        resolve: (s) => (s.position ? encodeToken(s.position) : null),
      }),
      lagEvents: t.exposeInt('lagEvents', { description: 'Events appended that it has not processed yet.' }),
      lagSeconds: t.exposeFloat('lagSeconds', {
        description: 'How long ago the oldest event it has not processed was appended; 0 when none.',
      }),
      rebuildLagEvents: t.exposeInt('rebuildLagEvents', {
        nullable: true,
        description: 'While REBUILDING: events its new copy has still to process before it is swapped in. Null otherwise.',
      }),
      lastError: t.exposeString('lastError', { nullable: true }),
      updatedAt: t.field({ type: 'DateTime', nullable: true, resolve: (s) => s.updatedAt }),
    }),
  });

  const ProjectionProgressRef = builder.objectRef<Progress>('ProjectionProgress').implement({
    fields: (t) => ({
      projection: t.exposeString('projection'),
      position: t.field({ type: 'ConsistencyToken', nullable: true, resolve: (p) => (p.position ? encodeToken(p.position) : null) }),
      caughtUp: t.exposeBoolean('caughtUp', {
        description: 'With `until`: it has processed that token. Without: it has processed every event appended so far.',
      }),
    }),
  });

  builder.queryFields((t) => ({
    projections: t.field({
      type: [ProjectionStatusRef],
      description: 'Operators only (and admins where TENANCY=single).',
      resolve: (_root, _args, ctx) => ctx.services.admin.status(ctx.caller),
    }),
  }));

  builder.mutationFields((t) => ({
    rebuildProjection: t.field({
      type: ProjectionStatusRef,
      description:
        'Operators only (and admins where TENANCY=single). Rebuilds blue/green: the old copy serves reads until the new one has caught up.',
      args: { name: t.arg.string({ required: true }) },
      resolve: (_root, { name }, ctx) => ctx.services.admin.rebuild(name, ctx.caller),
    }),
    pauseProjection: t.field({
      type: ProjectionStatusRef,
      description: 'Operators only (and admins where TENANCY=single).',
      args: { name: t.arg.string({ required: true }) },
      resolve: (_root, { name }, ctx) => ctx.services.admin.pause(name, ctx.caller),
    }),
    resumeProjection: t.field({
      type: ProjectionStatusRef,
      description: 'Operators only (and admins where TENANCY=single). Also restarts a FAILED projection at the event that failed.',
      args: { name: t.arg.string({ required: true }) },
      resolve: (_root, { name }, ctx) => ctx.services.admin.resume(name, ctx.caller),
    }),
  }));

  eventLogGraphQL(builder);
  replicasGraphQL(builder);

  builder.subscriptionFields((t) => ({
    projectionProgress: t.field({
      type: ProjectionProgressRef,
      description:
        'First the current position of each projection (all when `projections` is omitted), then one event each time one advances. With `until`, completes once all have processed that token.',
      args: { projections: t.arg.stringList(), until: t.arg({ type: 'ConsistencyToken' }) },
      subscribe: async (_root, args, ctx) => {
        ctx.services.admin.assertFollowsProgress(ctx.caller);
        const until = args.until ?? undefined;
        // A token the log has not reached would keep the subscription open forever: refused at once.
        if (until && !ctx.services.tracker.reached(until, ctx.services.projectionNames))
          await ctx.services.consistency.check(until, ['until']);
        return projectionProgress(ctx, args.projections ?? undefined, until);
      },
      resolve: (progress) => progress,
    }),
  }));
}

/** Query.eventLog and Subscription.eventLog: the log's head, for the operator. */
function eventLogGraphQL(builder: Builder): void {
  const EventLogRef = builder.objectRef<LogHead>('EventLog').implement({
    description: "The event log's head at sampledAt. Two samples' appendedEvents over their sampledAt give the rate of appends.",
    fields: (t) => ({
      head: t.field({
        type: 'ConsistencyToken',
        nullable: true,
        description: 'The last event readers may see now; null while the log is empty.',
        resolve: (log) => (log.position ? encodeToken(log.position) : null),
      }),
      headAt: t.field({ type: 'DateTime', nullable: true, description: 'When the head was appended.', resolve: (log) => log.appendedAt }),
      appendedEvents: t.exposeFloat('appendedEvents', {
        description:
          "Events appended so far, by the log's sequence (an append that rolled back counts too): for rates, not for accounting.",
      }),
      sampledAt: t.field({ type: 'DateTime', description: "The database's time of the sample.", resolve: (log) => log.sampledAt }),
    }),
  });

  builder.queryFields((t) => ({
    eventLog: t.field({
      type: EventLogRef,
      description: 'Operators only (and admins where TENANCY=single).',
      resolve: (_root, _args, ctx) => ctx.services.admin.head(ctx.caller),
    }),
  }));

  builder.subscriptionFields((t) => ({
    eventLog: t.field({
      type: EventLogRef,
      description: `Operators only (and admins where TENANCY=single). A sample of the log's head at once, then one every ${LOG_SAMPLE_MS / 1000} s.`,
      subscribe: async (_root, _args, ctx) => {
        const first = await ctx.services.admin.head(ctx.caller); // FORBIDDEN before anything is sent
        return logSamples(ctx, first);
      },
      resolve: (sample) => sample,
    }),
  }));
}

function logSamples(ctx: GraphQLContext, first: LogHead): AsyncIterable<LogHead> {
  return new Repeater<LogHead>(async (push, stop) => {
    superviseSubscription(ctx, 'eventLog', stop, stop);
    await push(first);
    const timer = setInterval(() => {
      // The database may be away a moment (a restart): that sample is left out, the next one goes.
      ctx.services.admin.head(ctx.caller).then(push, () => {});
    }, LOG_SAMPLE_MS);
    await stop;
    clearInterval(timer);
  });
}

/** Query.replicas: the hot standbys queries read on (none without DATABASE_REPLICA_URLS). */
function replicasGraphQL(builder: Builder): void {
  const ReplicaStateEnum = builder.enumType('ReplicaState', {
    description:
      'IN_ROTATION: queries read there. The others are out: not checked yet, too far behind, unreachable, or no longer a standby.',
    values: ['STARTING', 'IN_ROTATION', 'LAGGING', 'DOWN', 'PROMOTED'] as const,
  });
  const ReplicaStatusRef = builder.objectRef<ReplicaView>('ReplicaStatus').implement({
    fields: (t) => ({
      name: t.exposeString('name', { description: 'host:port/database (never the credentials).' }),
      state: t.field({ type: ReplicaStateEnum, resolve: (r) => r.state as typeof ReplicaStateEnum.$inferType }),
      lagSeconds: t.float({
        nullable: true,
        description: 'How far behind the primary it was at its last check; null when unknown (down, or nothing replayed yet).',
        resolve: (r) => (r.lagMs === null ? null : r.lagMs / 1000),
      }),
      reason: t.exposeString('reason', { nullable: true, description: 'Why it is out of rotation.' }),
    }),
  });

  builder.queryFields((t) => ({
    replicas: t.field({
      type: [ReplicaStatusRef],
      description: 'Operators only (and admins where TENANCY=single). Empty when queries read on the primary alone.',
      resolve: (_root, _args, ctx) => {
        ctx.services.admin.assertOperator(ctx.caller, 'see the replicas');
        return ctx.services.replicas?.status() ?? [];
      },
    }),
  }));
}

function projectionProgress(ctx: GraphQLContext, requested: string[] | undefined, until: Position | undefined): AsyncIterable<Progress> {
  const { tracker, projectionNames } = ctx.services;
  const names = requested ? [...new Set(requested)] : projectionNames;
  const unknown = names.filter((n) => !projectionNames.includes(n));
  if (unknown.length > 0) throw new NotFoundError(`No projection named ${unknown.join(', ')}; there are ${projectionNames.join(', ')}`);
  if (!until) {
    const stream = new ProgressStream(ctx.services, names, ctx.signal);
    superviseSubscription(ctx, 'projectionProgress', (error) => stream.end(error), stream.ended);
    return stream;
  }

  return new Repeater<Progress>(async (push, stop) => {
    superviseSubscription(ctx, 'projectionProgress', stop, stop);
    // With `until`, caught up on the tracker's causal rule: a projection that follows a process manager
    // has also processed what the process appended for the token (known once its wait resolves).
    const ended = new AbortController();
    const followed = new Set<string>();
    const caughtUp = (name: string) => followed.has(name) || tracker.reached(until, [name]);
    const done = new Set<string>();
    // Events from the tracker are queued until the first emission of every projection is out.
    const queue: string[] = [];
    let started = false;
    let chain = Promise.resolve();
    const emit = (name: string) => {
      chain = chain.then(async () => {
        if (done.has(name)) return;
        const position = tracker.position(name);
        const reached = caughtUp(name);
        await push({ projection: name, position, caughtUp: reached });
        if (reached) {
          done.add(name);
          if (done.size === names.length) stop();
        }
      });
      chain.catch((error) => stop(error));
    };
    const unsubscribe = tracker.subscribe(({ projection }) => {
      if (!names.includes(projection)) return;
      if (started) emit(projection);
      else queue.push(projection);
    });
    for (const name of names) emit(name);
    started = true;
    for (const name of queue.splice(0)) emit(name);
    for (const name of names) {
      void tracker.waitFor(until, [name], FOREVER_MS, ended.signal).then(({ stale }) => {
        if (stale) return;
        followed.add(name);
        emit(name);
      });
    }
    await stop;
    ended.abort();
    unsubscribe();
  });
}

// The projections' GraphQL face: status, the admin operations and the projectionProgress subscription.
import { Repeater } from 'graphql-yoga';
import { NotFoundError } from '../core/errors.ts';
import { encodeToken, isAtOrAfter, type Position } from '../core/position.ts';
import type { ProjectionStatus } from '../core/projection.ts';
import type { Builder } from './builder.ts';
import type { GraphQLContext } from './context.ts';
import { superviseSubscription } from './subscription.ts';

type Progress = { projection: string; position: Position | null; caughtUp: boolean };

/** The longest a timer runs: a subscription's waits end with it, not by time. */
const FOREVER_MS = 2 ** 31 - 1;

export function projectionsGraphQL(builder: Builder): void {
  const ProjectionStateEnum = builder.enumType('ProjectionState', { values: ['RUNNING', 'PAUSED', 'REBUILDING', 'FAILED'] as const });
  const ProcessorKindEnum = builder.enumType('ProcessorKind', {
    description: 'PROCESS_MANAGER: its effects are commands, not tables; it cannot be rebuilt.',
    values: ['PROJECTION', 'PROCESS_MANAGER'] as const,
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
      description: 'Admin only.',
      resolve: (_root, _args, ctx) => ctx.services.admin.status(ctx.caller),
    }),
  }));

  builder.mutationFields((t) => ({
    rebuildProjection: t.field({
      type: ProjectionStatusRef,
      description: 'Admin only. Rebuilds blue/green: the old copy serves reads until the new one has caught up.',
      args: { name: t.arg.string({ required: true }) },
      resolve: (_root, { name }, ctx) => ctx.services.admin.rebuild(name, ctx.caller),
    }),
    pauseProjection: t.field({
      type: ProjectionStatusRef,
      description: 'Admin only.',
      args: { name: t.arg.string({ required: true }) },
      resolve: (_root, { name }, ctx) => ctx.services.admin.pause(name, ctx.caller),
    }),
    resumeProjection: t.field({
      type: ProjectionStatusRef,
      description: 'Admin only. Also restarts a FAILED projection at the event that failed.',
      args: { name: t.arg.string({ required: true }) },
      resolve: (_root, { name }, ctx) => ctx.services.admin.resume(name, ctx.caller),
    }),
  }));

  builder.subscriptionFields((t) => ({
    projectionProgress: t.field({
      type: ProjectionProgressRef,
      description:
        'First the current position of each projection (all when `projections` is omitted), then one event each time one advances. With `until`, completes once all have processed that token.',
      args: { projections: t.arg.stringList(), until: t.arg({ type: 'ConsistencyToken' }) },
      subscribe: async (_root, args, ctx) => {
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

function projectionProgress(ctx: GraphQLContext, requested: string[] | undefined, until: Position | undefined): AsyncIterable<Progress> {
  const { tracker, projectionNames } = ctx.services;
  const names = requested ? [...new Set(requested)] : projectionNames;
  const unknown = names.filter((n) => !projectionNames.includes(n));
  if (unknown.length > 0) throw new NotFoundError(`No projection named ${unknown.join(', ')}; there are ${projectionNames.join(', ')}`);

  return new Repeater<Progress>(async (push, stop) => {
    superviseSubscription(ctx, 'projectionProgress', stop);
    // With `until`, caught up on the tracker's causal rule: a projection that follows a process manager
    // has also processed what the process appended for the token (known once its wait resolves).
    const ended = new AbortController();
    const followed = new Set<string>();
    const caughtUp = async (name: string, position: Position | null) => {
      if (until) return followed.has(name) || tracker.reached(until, [name]);
      // The database may be away a moment (a restart): the position goes out all the same, not caught up.
      const head = await ctx.services.headPosition().catch(() => undefined);
      if (head === undefined) return false;
      return head === null || (position !== null && isAtOrAfter(position, head));
    };
    const done = new Set<string>();
    // Events from the tracker are queued until the first emission of every projection is out.
    const queue: string[] = [];
    let started = false;
    let chain = Promise.resolve();
    const emit = (name: string) => {
      chain = chain.then(async () => {
        if (done.has(name)) return;
        const position = tracker.position(name);
        const reached = await caughtUp(name, position);
        await push({ projection: name, position, caughtUp: reached });
        if (until && reached) {
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
    if (until) {
      for (const name of names) {
        void tracker.waitFor(until, [name], FOREVER_MS, ended.signal).then(({ stale }) => {
          if (stale) return;
          followed.add(name);
          emit(name);
        });
      }
    }
    await stop;
    ended.abort();
    unsubscribe();
  });
}

// Live queries: a query operation marked `@live` (the directive of @n1ru4l/graphql-live-query) answers at
// once and again whenever a projection advance touches what it read. Invalidation follows Converge's own
// advances (the streams each one projected, through the faces' live sources), never polling; identical
// live queries (document, variables, caller's access) share one execution (live-execution.ts), and each
// result carries extensions.consistency.token, never older than the change that caused it.
import { getLiveDirectiveArgumentValues, getLiveDirectiveNode } from '@n1ru4l/graphql-live-query';
import { type ExecutionArgs, type ExecutionResult, GraphQLError, getOperationAST, print, type DocumentNode } from 'graphql';
import { isAsyncIterable } from 'graphql-yoga';
import { comparePositions, encodeToken, type Position } from '../core/position.ts';
import type { ChangedStreams } from '../core/stream-changes.ts';
import { DEFAULT_TENANT, inTenant, splitKey } from '../core/tenancy.ts';
import type { GraphQLContext, GraphQLServices } from './context.ts';
import { LiveExecution } from './live-execution.ts';
import { ANY_ROW, type LiveSource } from './live-sources.ts';
import { superviseLiveClient } from './live-subscriber.ts';

type Execute = (args: ExecutionArgs) => unknown;

/** What live queries hold now: shared executions, their clients, the keys they watch, the projections followed. */
export type LiveStats = { executions: number; subscribers: number; keys: number; projections: number; runs: number };

/** By projection, tenant and key: the executions that read it. */
type Index = Map<string, Map<string, Map<string, Set<LiveExecution>>>>;

export class LiveQueries {
  private readonly executions = new Map<string, LiveExecution>();
  private readonly index: Index = new Map();
  private readonly follows = new Map<string, () => void>();
  private readonly sources = new Map<string, LiveSource[]>();
  private readonly documents = new WeakMap<DocumentNode, string>();
  /** Each followed projection's last advance whose changes were handed to the executions they touched. */
  private readonly handled = new Map<string, Position>();
  private runs = 0;

  constructor(
    private readonly services: GraphQLServices,
    sources: readonly LiveSource[],
  ) {
    for (const source of sources) this.sources.set(source.projection, [...(this.sources.get(source.projection) ?? []), source]);
  }

  /** Executes `args` with `execute`, or, for a live query, returns the stream of its results. */
  execute(args: ExecutionArgs, execute: Execute): unknown {
    const operation = getOperationAST(args.document, args.operationName);
    const directive = operation?.operation === 'query' ? getLiveDirectiveNode(operation) : undefined;
    if (!directive || !getLiveDirectiveArgumentValues(directive, args.variableValues).isLive) return execute(args);
    const ctx = args.contextValue as GraphQLContext;
    const key = this.shareKey(args, ctx);
    const execution = this.executions.get(key) ?? this.start(key, args, ctx, execute);
    return superviseLiveClient(ctx, execution.join());
  }

  stats(): LiveStats {
    let subscribers = 0;
    for (const execution of this.executions.values()) subscribers += execution.subscriberCount;
    let keys = 0;
    for (const tenants of this.index.values()) for (const byKey of tenants.values()) keys += byKey.size;
    return { executions: this.executions.size, subscribers, keys, projections: this.follows.size, runs: this.runs };
  }

  /** The last advance of `projection` whose changes reached the live queries they touched (null: none yet). */
  handledUpTo(projection: string): Position | null {
    return this.handled.get(projection) ?? null;
  }

  /** Same document, operation, variables, session token and access: one execution serves them all. */
  private shareKey(args: ExecutionArgs, ctx: GraphQLContext): string {
    let document = this.documents.get(args.document);
    if (document === undefined) this.documents.set(args.document, (document = print(args.document)));
    const { caller } = ctx;
    const access = [caller.tenant ?? null, caller.userId, [...caller.roles].sort(), caller.system === true];
    const session = ctx.consistency.session ? encodeToken(ctx.consistency.session) : null;
    return JSON.stringify([document, args.operationName ?? null, args.variableValues ?? null, session, access]);
  }

  private start(key: string, args: ExecutionArgs, ctx: GraphQLContext, execute: Execute): LiveExecution {
    const tenant = ctx.caller.tenant ?? DEFAULT_TENANT;
    // Its own signal: the client that started it may leave while others stay.
    const controller = new AbortController();
    const base: GraphQLContext = { ...ctx, signal: controller.signal, live: undefined };
    const execution: LiveExecution = new LiveExecution(
      {
        run: (session, read) => this.run(args, execute, base, session, read),
        watch: (projection, watched) => this.watch(execution, projection, tenant, watched),
        unwatch: (projection, watched) => this.unwatch(execution, projection, tenant, watched),
        disposed: () => {
          controller.abort();
          this.executions.delete(key);
        },
      },
      ctx.consistency.session,
    );
    this.executions.set(key, execution);
    return execution.start();
  }

  /** One run, with a request state of its own; its token: the session, or where the projections it read were. */
  private async run(
    args: ExecutionArgs,
    execute: Execute,
    base: GraphQLContext,
    session: Position | undefined,
    read: (projection: string, key: string) => void,
  ): Promise<ExecutionResult> {
    this.runs++;
    const tracker = this.services.tracker;
    const before = new Map(this.services.projectionNames.map((name) => [name, tracker.position(name)]));
    const projections = new Set<string>();
    const consistency = { session, token: session, stale: false, readAt: new WeakMap() };
    const contextValue: GraphQLContext = {
      ...base,
      consistency,
      live: {
        watch(projection, key) {
          projections.add(projection);
          read(projection, key);
        },
      },
    };
    let result: ExecutionResult;
    try {
      const value = await execute({ ...args, contextValue });
      result = isAsyncIterable(value)
        ? { errors: [new GraphQLError('@live cannot be combined with @defer or @stream')] }
        : (value as ExecutionResult);
    } catch (error) {
      result = {
        errors: [error instanceof GraphQLError ? error : new GraphQLError((error as Error).message, { originalError: error as Error })],
      };
    }
    const token = session ?? oldest([...projections].map((name) => before.get(name) ?? null));
    // No token only before any event: nothing has been projected yet.
    if (!token && !consistency.stale) return result;
    const extension = { ...(token && { token: encodeToken(token) }), ...(consistency.stale && { stale: true }) };
    return { ...result, extensions: { ...result.extensions, consistency: extension } };
  }

  private watch(execution: LiveExecution, projection: string, tenant: string, key: string) {
    let tenants = this.index.get(projection);
    if (!tenants) {
      this.index.set(projection, (tenants = new Map()));
      // Followed from where the projection is now: what it did before, the runs read already.
      const now = this.services.tracker.position(projection);
      if (now) this.noteHandled(projection, now);
      this.follows.set(
        projection,
        this.services.changes.subscribe(projection, (changed, at) => void this.changed(projection, changed, at)),
      );
    }
    let byKey = tenants.get(tenant);
    if (!byKey) tenants.set(tenant, (byKey = new Map()));
    let executions = byKey.get(key);
    if (!executions) byKey.set(key, (executions = new Set()));
    executions.add(execution);
  }

  private unwatch(execution: LiveExecution, projection: string, tenant: string, key: string) {
    const tenants = this.index.get(projection);
    const byKey = tenants?.get(tenant);
    const executions = byKey?.get(key);
    if (!tenants || !byKey || !executions) return;
    executions.delete(execution);
    if (executions.size > 0) return;
    byKey.delete(key);
    if (byKey.size > 0) return;
    tenants.delete(tenant);
    if (tenants.size > 0) return;
    this.index.delete(projection);
    this.follows.get(projection)?.();
    this.follows.delete(projection);
  }

  /** An advance of `projection` to `at`: the executions that read a key it touched run again. */
  private async changed(projection: string, changed: ChangedStreams, at: Position) {
    await this.invalidate(projection, changed, at);
    this.noteHandled(projection, at);
  }

  private noteHandled(projection: string, at: Position) {
    const handled = this.handled.get(projection);
    if (!handled || comparePositions(at, handled) > 0) this.handled.set(projection, at);
  }

  private async invalidate(projection: string, changed: ChangedStreams, at: Position) {
    const tenants = this.index.get(projection);
    if (!tenants) return;
    if (changed === 'all') {
      for (const byKey of tenants.values()) for (const executions of byKey.values()) for (const e of executions) e.invalidate(at);
      return;
    }
    const streams = new Map<string, string[]>();
    for (const qualified of changed) {
      const [tenant, id] = splitKey(qualified);
      if (tenants.has(tenant)) streams.set(tenant, [...(streams.get(tenant) ?? []), id]);
    }
    await Promise.all(
      [...streams].map(async ([tenant, ids]) => {
        const keys = await this.keysOf(projection, tenant, ids, at);
        const byKey = this.index.get(projection)?.get(tenant);
        if (!byKey) return;
        for (const key of keys ?? byKey.keys()) for (const execution of byKey.get(key) ?? []) execution.invalidate(at);
      }),
    );
  }

  /** The keys the streams' changes touched, by the projection's live sources; null when that could not be read. */
  private async keysOf(projection: string, tenant: string, ids: string[], at: Position): Promise<Iterable<string> | null> {
    const sources = this.sources.get(projection);
    if (!sources) return [...ids, ANY_ROW];
    try {
      const keys = await Promise.all(sources.map((source) => inTenant(tenant, () => source.keys(this.services, ids, at))));
      return keys.flat();
    } catch {
      return null; // every execution of the tenant runs again, and fails or not on its own
    }
  }
}

const oldest = (positions: (Position | null)[]): Position | undefined =>
  positions.reduce<Position | undefined>((min, p) => (p && (!min || comparePositions(p, min) < 0) ? p : min), undefined);

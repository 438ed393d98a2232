// The query bus: named queries with typed parameters and results, a middleware chain around each.

/** Maps each query name to its parameters and result, e.g. { order: { params: { id: string }; result: Order | null } }. */
export type QueryMap = Record<string, { params: unknown; result: unknown }>;

export type QueryHandler<Q extends QueryMap, K extends keyof Q, Ctx> = (params: Q[K]['params'], context: Ctx) => Promise<Q[K]['result']>;

export type QueryMiddleware<Ctx> = (
  query: { name: string; params: unknown; context: Ctx },
  next: () => Promise<unknown>,
) => Promise<unknown>;

export type QueryBus<Q extends QueryMap, Ctx> = {
  register<K extends keyof Q & string>(name: K, handler: QueryHandler<Q, K, Ctx>): void;
  execute<K extends keyof Q & string>(name: K, params: Q[K]['params'], context: Ctx): Promise<Q[K]['result']>;
};

export function createQueryBus<Q extends QueryMap, Ctx>(options: { middleware?: QueryMiddleware<Ctx>[] } = {}): QueryBus<Q, Ctx> {
  const handlers = new Map<string, (params: unknown, context: Ctx) => Promise<unknown>>();
  const middleware = options.middleware ?? [];
  return {
    register(name, handler) {
      if (handlers.has(name)) throw new Error(`query ${name} already has a handler`);
      handlers.set(name, handler as (params: unknown, context: Ctx) => Promise<unknown>);
    },
    execute(name, params, context) {
      const handler = handlers.get(name);
      if (!handler) return Promise.reject(new Error(`no handler registered for query ${name}`));
      const query = { name, params, context };
      const run = middleware.reduceRight<() => Promise<unknown>>(
        (next, mw) => () => mw(query, next),
        () => handler(params, context),
      );
      return run() as Promise<Q[typeof name]['result']>;
    },
  };
}

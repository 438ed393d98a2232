// Subscriptions through event-execution.ts on a small schema: a shared event is executed once per document,
// operation and variables whoever takes it, an unshared one once per subscriber (with its own caller); the
// errors before the stream and from it are reported as yoga's executor reports them; return() reaches the
// source, a failed source is closed, and an event still executing when the subscriber leaves is dropped.
import {
  GraphQLError,
  GraphQLInt,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLSchema,
  GraphQLString,
  parse,
  type DocumentNode,
  type ExecutionResult,
} from 'graphql';
import { describe, expect, it } from 'vitest';
import { sharedEvent, subscribe } from '../../src/graphql/event-execution.ts';

type Tick = { n: number };

function setup() {
  const resolved: number[] = [];
  let release = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  const returned: string[] = [];
  let fail: Error | undefined;
  // Each subscriber's source: the events given to `emit`, in order.
  const sources = new Set<(event: Tick) => void>();
  const Tick = new GraphQLObjectType<Tick>({
    name: 'Tick',
    fields: {
      n: {
        type: GraphQLInt,
        resolve: (tick) => {
          resolved.push(tick.n);
          return tick.n;
        },
      },
      label: { type: GraphQLString, args: { prefix: { type: GraphQLString } }, resolve: (tick, args) => `${args.prefix ?? ''}${tick.n}` },
      // Reads the caller, as Order.shippingAddress does.
      viewer: { type: GraphQLString, resolve: (_tick, _args, context: { name: string }) => context.name },
      // Resolved once `release` is called: an event still executing.
      later: {
        type: GraphQLInt,
        resolve: async (tick) => {
          await held;
          return tick.n;
        },
      },
    },
  });
  const schema = new GraphQLSchema({
    query: new GraphQLObjectType({ name: 'Query', fields: { ok: { type: GraphQLInt } } }),
    subscription: new GraphQLObjectType({
      name: 'Subscription',
      fields: {
        ticks: {
          type: Tick,
          args: { from: { type: new GraphQLNonNull(GraphQLInt) } },
          subscribe: (_root, args: { from: number }, context: { name: string }) => {
            if (args.from < 0) throw new Error('from must not be negative');
            const queue: Tick[] = [];
            let wake: (() => void) | undefined;
            const push = (event: Tick) => {
              queue.push(event);
              wake?.();
            };
            sources.add(push);
            return {
              [Symbol.asyncIterator]() {
                return this;
              },
              async next(): Promise<IteratorResult<Tick>> {
                while (queue.length === 0) await new Promise<void>((resolve) => (wake = resolve));
                if (fail) throw fail;
                return { done: false, value: queue.shift()! };
              },
              async return(): Promise<IteratorResult<Tick>> {
                sources.delete(push);
                returned.push(context.name);
                return { done: true, value: undefined };
              },
            };
          },
          resolve: (tick: Tick) => tick,
        },
      },
    }),
  });
  // One document per query text, as yoga's parser cache gives it.
  const documents = new Map<string, DocumentNode>();
  const start = (query: string, variables: Record<string, unknown>, name = 'caller', operationName?: string) => {
    if (!documents.has(query)) documents.set(query, parse(query));
    return subscribe({ schema, document: documents.get(query)!, variableValues: variables, contextValue: { name }, operationName });
  };
  return {
    start,
    resolved,
    returned,
    release: () => release(),
    emit: (event: Tick) => {
      for (const push of sources) push(event);
    },
    failWith: (error: Error) => {
      fail = error;
      for (const push of sources) push({ n: -1 });
    },
  };
}

const SUB = `subscription($from: Int!) { ticks(from: $from) { n } }`;
const iterator = (stream: unknown) => stream as AsyncIterableIterator<ExecutionResult>;

describe('subscription events (event-execution.ts)', () => {
  it('a shared event is executed once for every subscriber with the same document and variables', async () => {
    const t = setup();
    const streams = await Promise.all([1, 2, 3].map(() => t.start(SUB, { from: 0 }).then(iterator)));
    const event = sharedEvent({ n: 7 });
    t.emit(event);
    const results = await Promise.all(streams.map((s) => s.next()));
    expect(results.map((r) => r.value)).toEqual([1, 2, 3].map(() => ({ data: { ticks: { n: 7 } } })));
    expect(t.resolved).toEqual([7]);
    expect(results[1]!.value).toBe(results[0]!.value); // one result object, shared
  });

  it('other variables, another document or an unshared event: executed for each subscriber', async () => {
    const t = setup();
    const a = iterator(await t.start(SUB, { from: 0 }));
    const b = iterator(await t.start(SUB, { from: 1 }));
    const c = iterator(await t.start(`subscription($from: Int!) { ticks(from: $from) { n label(prefix: "#") } }`, { from: 0 }));
    t.emit(sharedEvent({ n: 1 }));
    const shared = await Promise.all([a, b, c].map((s) => s.next()));
    expect(shared.map((r) => r.value)).toEqual([
      { data: { ticks: { n: 1 } } },
      { data: { ticks: { n: 1 } } },
      { data: { ticks: { n: 1, label: '#1' } } },
    ]);
    expect(t.resolved).toEqual([1, 1, 1]);
    t.emit({ n: 2 });
    await Promise.all([a, b, c].map((s) => s.next()));
    expect(t.resolved).toEqual([1, 1, 1, 2, 2, 2]);
    // The second subscriber of the same document and variables shares the next shared event again.
    const d = iterator(await t.start(SUB, { from: 0 }));
    t.emit(sharedEvent({ n: 3 }));
    await Promise.all([a, b, c, d].map((s) => s.next()));
    expect(t.resolved.filter((n) => n === 3)).toHaveLength(3);
  });

  it('an unshared event object given to two callers is executed for each: fields may read the caller', async () => {
    const t = setup();
    const query = `subscription($from: Int!) { ticks(from: $from) { viewer } }`;
    const alice = iterator(await t.start(query, { from: 0 }, 'alice'));
    const bob = iterator(await t.start(query, { from: 0 }, 'bob'));
    t.emit({ n: 1 }); // one object to both, as the orders watchers hand one row to every orderChanged subscriber
    const [a, b] = await Promise.all([alice.next(), bob.next()]);
    expect(a.value).toEqual({ data: { ticks: { viewer: 'alice' } } });
    expect(b.value).toEqual({ data: { ticks: { viewer: 'bob' } } });
  });

  it('two operations of one document do not share a shared event', async () => {
    const t = setup();
    const query = `subscription A($from: Int!) { ticks(from: $from) { n } } subscription B($from: Int!) { ticks(from: $from) { label } }`;
    const a = iterator(await t.start(query, { from: 0 }, 'a', 'A'));
    const b = iterator(await t.start(query, { from: 0 }, 'b', 'B'));
    t.emit(sharedEvent({ n: 2 }));
    const [ra, rb] = await Promise.all([a.next(), b.next()]);
    expect(ra.value).toEqual({ data: { ticks: { n: 2 } } });
    expect(rb.value).toEqual({ data: { ticks: { label: '2' } } });
  });

  it('an event still executing when the subscriber leaves is not delivered', async () => {
    const t = setup();
    const a = iterator(await t.start(`subscription($from: Int!) { ticks(from: $from) { later } }`, { from: 0 }, 'a'));
    const pending = a.next();
    t.emit({ n: 3 });
    await new Promise((resolve) => setImmediate(resolve)); // taken from the source, waiting in its resolver
    await a.return!();
    t.release();
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(t.returned).toEqual(['a']);
  });

  it('a variable that does not coerce is the client error BAD_USER_INPUT; an error of the resolver is its own', async () => {
    const t = setup();
    const bad = (await t.start(SUB, { from: 'x' })) as ExecutionResult;
    expect(bad.errors?.[0]).toBeInstanceOf(GraphQLError);
    expect(bad.errors?.[0]?.message).toMatch(/Variable "\$from" got invalid value "x"/);
    expect(bad.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', http: { status: 400 } });
    const refused = (await t.start(SUB, { from: -1 })) as ExecutionResult;
    expect(refused.errors?.[0]?.message).toBe('from must not be negative');
    expect(refused.errors?.[0]?.path).toEqual(['ticks']);
    expect(refused.errors?.[0]?.extensions?.code).toBeUndefined();
  });

  it('a source that fails throws its error located at the operation; return() reaches the source', async () => {
    const t = setup();
    const a = iterator(await t.start(SUB, { from: 0 }, 'a'));
    const b = iterator(await t.start(SUB, { from: 0 }, 'b'));
    await b.return!();
    expect(t.returned).toEqual(['b']);
    t.failWith(new Error('the database went away'));
    const failed = await a.next().catch((error: unknown) => error);
    expect(t.returned).toEqual(['b', 'a']); // closed after it failed
    expect(failed).toBeInstanceOf(GraphQLError);
    expect((failed as GraphQLError).message).toBe('the database went away');
    expect((failed as GraphQLError).originalError?.message).toBe('the database went away');
    expect((failed as GraphQLError).locations).toEqual([{ line: 1, column: 1 }]);
  });
});

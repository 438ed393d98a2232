// Subscriptions by the GraphQL spec's rule (each source event executed with the operation's selection, the
// event as its root value), with one difference from the executor yoga brings: an event its stream marks
// shared is executed once per schema, document, operation and variables, whoever receives it. One advance
// fanned out to thousands of projectionProgress subscribers then costs one execution, not one each
// (docs/decisions/subscriptions-at-scale.md).
import {
  createSourceEventStream,
  execute,
  getOperationAST,
  GraphQLError,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type GraphQLSchema,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';

type Result = ExecutionResult | Promise<ExecutionResult>;

const sharedEvents = new WeakSet<object>();
/** Per shared event: its result for each schema and document, by operation name and variables. */
const results = new WeakMap<object, WeakMap<GraphQLSchema, WeakMap<DocumentNode, Map<string, Result>>>>();

/**
 * Marks `event` as one whose fields resolve from the event alone, never from the context or the caller
 * (the stream's subscribe resolver has checked who may follow it): every subscriber with the same
 * selection gets the same result object, so no one may change it.
 */
export function sharedEvent<T extends object>(event: T): T {
  sharedEvents.add(event);
  return event;
}

/** The events of one subscription, each executed as it is taken; return() and throw() reach the source. */
class ExecutedEvents implements AsyncIterableIterator<ExecutionResult> {
  private key: string | undefined;
  /** Set by return(): an event still executing then is dropped, as graphql-tools' executor drops it. */
  private returned = false;

  constructor(
    private readonly source: AsyncIterator<unknown>,
    private readonly args: ExecutionArgs,
  ) {}

  [Symbol.asyncIterator]() {
    return this;
  }

  async next(): Promise<IteratorResult<ExecutionResult>> {
    let event: IteratorResult<unknown>;
    try {
      event = await this.source.next();
    } catch (error) {
      // A source that failed is closed, whether or not it ended itself.
      await this.source.return?.().catch(() => undefined);
      throw this.located(error);
    }
    if (event.done) return { done: true, value: undefined };
    const value = await this.execute(event.value);
    return this.returned ? { done: true, value: undefined } : { done: false, value };
  }

  async return(): Promise<IteratorResult<ExecutionResult>> {
    this.returned = true;
    await this.source.return?.();
    return { done: true, value: undefined };
  }

  async throw(error: unknown): Promise<IteratorResult<ExecutionResult>> {
    if (!this.source.throw) throw error;
    await this.source.throw(error);
    return { done: true, value: undefined };
  }

  private execute(event: unknown): Result {
    if (typeof event !== 'object' || event === null || !sharedEvents.has(event)) return execute({ ...this.args, rootValue: event });
    let bySchema = results.get(event);
    if (!bySchema) results.set(event, (bySchema = new WeakMap()));
    let byDocument = bySchema.get(this.args.schema);
    if (!byDocument) bySchema.set(this.args.schema, (byDocument = new WeakMap()));
    let byKey = byDocument.get(this.args.document);
    if (!byKey) byDocument.set(this.args.document, (byKey = new Map()));
    this.key ??= `${this.args.operationName ?? ''} ${JSON.stringify(this.args.variableValues ?? null)}`;
    let result = byKey.get(this.key);
    if (!result) byKey.set(this.key, (result = execute({ ...this.args, rootValue: event })));
    return result;
  }

  /** A source that fails: the error located at the operation, as yoga's executor reports it. */
  private located(error: unknown): GraphQLError {
    const operation = getOperationAST(this.args.document, this.args.operationName);
    const original = error instanceof Error ? error : new Error(String(error));
    return new GraphQLError(original.message, { originalError: original, nodes: operation ?? undefined });
  }
}

/**
 * graphql-js's subscribe with shared events. Errors before the stream starts are its result; those from
 * the variables are the client's (BAD_USER_INPUT, HTTP 400), as yoga's executor marks them.
 */
export async function subscribe(args: ExecutionArgs): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
  const source = await createSourceEventStream(args);
  if (Symbol.asyncIterator in source) return new ExecutedEvents(source[Symbol.asyncIterator](), args);
  const errors = source.errors?.map((error) =>
    error.path
      ? error
      : new GraphQLError(error.message, {
          nodes: error.nodes,
          source: error.source,
          positions: error.positions,
          originalError: error.originalError,
          extensions: { ...error.extensions, code: 'BAD_USER_INPUT', http: { status: 400 } },
        }),
  );
  return { ...source, errors };
}

/** Every subscription of the schema through `subscribe` above (over WebSocket and over SSE alike). */
export const useSharedEventExecution = (): Plugin => ({
  onSubscribe({ setSubscribeFn }) {
    setSubscribeFn(subscribe as never);
  },
});

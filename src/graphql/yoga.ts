// The GraphQL-over-HTTP handler (graphql-yoga): schema, context, error masking, the read-your-writes
// `extensions.consistency`, and GraphiQL served from this process (no CDN).
import { randomUUID } from 'node:crypto';
import { type ExecutionResult, getOperationAST, GraphQLError, Kind, type GraphQLSchema } from 'graphql';
import { createYoga, isAsyncIterable, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import type { Authenticate, Caller } from '../core/caller.ts';
import type { Issue } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { encodeToken } from '../core/position.ts';
import { NO_SPAN, type Span, type Tracing } from '../core/tracing.ts';
import { useUnauthenticatedStatus } from './auth-status.ts';
import type { GraphQLContext, GraphQLServices } from './context.ts';
import { requestConsistency } from './consistency.ts';
import { literalPath, maskError, withVariablePath } from './errors.ts';
import { useSharedEventExecution } from './event-execution.ts';
import { limitPlugins } from './limits.ts';
import type { LiveQueries } from './live-queries.ts';
import { NoLiveMixedWithDeferStreamRule } from '@n1ru4l/graphql-live-query';

export const GRAPHQL_PATH = '/graphql';

/** What the handler reports as it works (the metrics, in the running service). */
export type GraphQLObserver = {
  operation(type: string, name: string, outcome: 'ok' | 'error', seconds: number): void;
  subscriptionStarted(name: string): void;
  subscriptionEnded(name: string): void;
};

export type ServerContext = { req?: import('node:http').IncomingMessage };
/** Over WebSocket: the caller authenticated at connection_init, and the operation's abort signal. */
type WebSocketContext = { extra?: { caller?: Caller }; signal?: AbortSignal };

/**
 * `extensions.consistency`: `token` when the request carried one or ran a command (it covers both), and
 * `stale: true` when a read-your-writes wait timed out.
 */
const useConsistencyExtension = (): Plugin<GraphQLContext> => ({
  onExecute() {
    return {
      onExecuteDone({ args, result, setResult }) {
        const consistency = (args.contextValue as GraphQLContext).consistency;
        if (isAsyncIterable(result) || !consistency || (!consistency.token && !consistency.stale)) return;
        const extension = {
          ...(consistency.token && { token: encodeToken(consistency.token) }),
          ...(consistency.stale && { stale: true }),
        };
        setResult({ ...result, extensions: { ...result.extensions, consistency: extension } });
      },
    };
  },
});

/**
 * A variable that does not coerce is bad user input, whoever refused it (graphql-js for an Int out of
 * range, a scalar of ours for bad Money): BAD_USER_INPUT, with the variable's path in its issues.
 */
const useVariableIssuePaths = (): Plugin<GraphQLContext> => ({
  onResultProcess({ result, setResult }) {
    if (Array.isArray(result) || isAsyncIterable(result) || !result.errors?.length) return;
    let changed = false;
    const errors = result.errors.map((error) => {
      const code = error.extensions?.code;
      if (!error.message.startsWith('Variable "$') || (code !== undefined && code !== 'BAD_USER_INPUT')) return error;
      const reason = error.message.replace(/^Variable "\$[^"]+" (got invalid value .*?(at "[^"]+")?; )?/s, '');
      const issues = (error.extensions?.issues as Issue[] | undefined) ?? [{ path: [], message: reason }];
      changed = true;
      return new GraphQLError(error.message, {
        nodes: error.nodes,
        source: error.source,
        positions: error.positions,
        extensions: { ...error.extensions, code: 'BAD_USER_INPUT', issues: withVariablePath(error.message, issues) },
      });
    });
    if (changed) setResult({ ...result, errors });
  },
});

/**
 * A browser opening /graphql where GraphiQL is off gets told so, instead of "Must provide query
 * string." (GraphQL clients never ask for text/html.)
 */
const useGraphiQLOffPage = (): Plugin<GraphQLContext> => ({
  onRequest({ request, url, endResponse }) {
    if (request.method !== 'GET' || url.searchParams.has('query') || !/text\/html/.test(request.headers.get('accept') ?? '')) return;
    endResponse(
      new Response(
        'GraphiQL is off on this server (the default when NODE_ENV=production); start it with GRAPHIQL=on to serve it.\n' +
          'GraphQL itself is here: POST /graphql with a JSON body, or GET /graphql?query=… for queries.\n',
        { status: 400, headers: { 'content-type': 'text/plain; charset=utf-8' } },
      ),
    );
  },
});

/**
 * A request that is not a well-formed GraphQL request (no query, a body that is not JSON or not an
 * object) answers 400 whatever the client accepts, as the GraphQL-over-HTTP spec wants; yoga answers
 * an `accept: application/json` client 200 for these, as it rightly does for a valid request's errors.
 */
const useMalformedRequestStatus = (): Plugin<GraphQLContext> => ({
  onResultProcess({ result, setResult }) {
    if (Array.isArray(result) || isAsyncIterable(result) || !result.errors?.length) return;
    const malformed = (error: GraphQLError) =>
      error.extensions?.code === 'BAD_REQUEST' && (error.extensions.http as { spec?: boolean } | undefined)?.spec;
    if (!result.errors.some(malformed)) return;
    const errors = result.errors.map((error) =>
      malformed(error)
        ? new GraphQLError(error.message, {
            extensions: { ...error.extensions, http: { ...(error.extensions.http as object), spec: false } },
          })
        : error,
    );
    setResult({ ...result, errors });
  },
});

/** A bad literal in the query itself (not a variable) gets the argument's path in its issues. */
const useLiteralIssuePaths = (): Plugin<GraphQLContext> => ({
  onValidate({ params }) {
    return ({ valid, result, setResult }) => {
      if (valid) return;
      let changed = false;
      const errors = result.map((error) => {
        const issues = error.extensions?.issues as Issue[] | undefined;
        const node = error.nodes?.[0];
        if (!issues || !node || issues.every((issue) => issue.path.length > 0)) return error;
        const base = literalPath(params.documentAST, node);
        if (base.length === 0) return error;
        changed = true;
        return new GraphQLError(error.message, {
          nodes: error.nodes,
          source: error.source,
          positions: error.positions,
          extensions: { ...error.extensions, issues: issues.map((issue) => ({ ...issue, path: [...base, ...issue.path] })) },
        });
      });
      if (changed) setResult(errors);
    };
  },
});

/**
 * One metric sample and one log line per executed operation. The name label is the root fields
 * (bounded by the schema), not the client's operation name (which clients choose freely).
 */
const useOperationObservability = (observer: GraphQLObserver): Plugin<GraphQLContext> => ({
  onExecute({ args }) {
    const started = performance.now();
    const operation = getOperationAST(args.document, args.operationName ?? undefined);
    const type = operation?.operation ?? 'unknown';
    const name = rootFields(operation);
    return {
      onExecuteDone({ result }) {
        if (isAsyncIterable(result)) return;
        const seconds = (performance.now() - started) / 1000;
        const codes = (result.errors ?? []).map((e) => e.extensions?.code ?? 'UNKNOWN');
        observer.operation(type, name, codes.length > 0 ? 'error' : 'ok', seconds);
        const context = args.contextValue as GraphQLContext;
        context.log?.info(
          { operation: type, fields: name, durationMs: Math.round(seconds * 1e4) / 10, ...(codes.length > 0 && { errors: codes }) },
          'graphql operation',
        );
      },
    };
  },
});

/** `@live` query operations answer with a stream of results (live-queries.ts); everything else runs as before. */
const useLiveQueries = (live: LiveQueries): Plugin<GraphQLContext> => ({
  onExecute({ executeFn, setExecuteFn }) {
    setExecuteFn((args) => live.execute(args, executeFn) as ReturnType<typeof executeFn>);
  },
  onValidate({ addValidationRule }) {
    addValidationRule(NoLiveMixedWithDeferStreamRule);
  },
});

/** An operation's root fields, sorted (bounded by the schema, unlike the name a client gives it). */
const rootFields = (operation: ReturnType<typeof getOperationAST>) =>
  operation?.selectionSet.selections
    .map((s) => (s.kind === Kind.FIELD ? s.name.value : '…'))
    .sort()
    .join(',')
    .slice(0, 100) ?? 'unknown';

/**
 * The operation's span, named by its type and the client's operation name, with its root fields and
 * error codes: never the document (literals in it may be personal data) or the variables. Over HTTP it
 * is the request's own span (traceRequest, infra/server/http.ts), renamed: one span per request, not
 * two; over WebSocket a span of its own.
 */
const useOperationSpans = (tracing: Tracing): Plugin<GraphQLContext> => ({
  onExecute({ args, executeFn, setExecuteFn }) {
    const operation = getOperationAST(args.document, args.operationName ?? undefined);
    const type = operation?.operation ?? 'unknown';
    const name = operation?.name?.value.slice(0, 100);
    const spanName = name ? `${type} ${name}` : type;
    const attributes = { 'graphql.operation.type': type, 'graphql.operation.name': name, 'converge.graphql.fields': rootFields(operation) };
    const failed = (span: Span, result: unknown) => {
      const codes = isAsyncIterable(result)
        ? []
        : ((result as ExecutionResult).errors ?? []).map((e) => String(e.extensions?.code ?? 'UNKNOWN'));
      if (codes.length === 0) return;
      span.setAttributes({ 'converge.graphql.errors': codes });
      span.fail(codes[0]!);
    };
    const request = (args.contextValue as GraphQLContext).requestSpan;
    if (request) {
      request.rename(spanName);
      request.setAttributes(attributes);
      return { onExecuteDone: ({ result }) => failed(request, result) };
    }
    setExecuteFn((execution) =>
      tracing.span(spanName, { kind: 'server', attributes }, async (span) => {
        const result = await executeFn(execution);
        failed(span, result);
        return result;
      }),
    );
  },
});

const currentRequestSpan = (tracing: Tracing) => {
  const span = tracing.currentSpan();
  return span === NO_SPAN ? undefined : span;
};

export type GraphQLHandlerOptions = {
  schema: GraphQLSchema;
  services: GraphQLServices;
  log: Logger;
  observer: GraphQLObserver;
  authenticate: Authenticate;
  /** Serves `@live` queries (absent: the directive is accepted and the query answered once). */
  live?: LiveQueries;
  /** Callers authenticate with bearer tokens (not open development mode): a refused one answers 401. */
  bearerTokens: boolean;
  /** GraphiQL, introspection and field suggestions, together; GraphiQL opens on `example`. */
  graphiql: { example: string } | false;
  tracing?: Tracing;
};

export function createGraphQLHandler(options: GraphQLHandlerOptions): YogaServerInstance<ServerContext, GraphQLContext> {
  const { services, authenticate, log, observer } = options;
  return createYoga<ServerContext, GraphQLContext>({
    schema: options.schema,
    graphqlEndpoint: GRAPHQL_PATH,
    landingPage: false,
    logging: false,
    // Bodies are limited before yoga sees them: by the HTTP server (413 on a larger content-length or
    // chunked body) and by App.fetch. yoga's own limit would pipe every body through a TransformStream,
    // and each such pipe makes and aborts an AbortController (a DOMException with a stack trace): about
    // 7% of the server's CPU per request.
    maxRequestBodySize: false,
    maskedErrors: { maskError },
    graphiql: options.graphiql ? { title: 'Converge', defaultQuery: options.graphiql.example, subscriptionsProtocol: 'WS' } : false,
    // Loaded on the first page asked for: the page's bundle is a tenth of the server's start-up.
    renderGraphiQL: async (graphiqlOptions) => (await import('@graphql-yoga/render-graphiql')).renderGraphiQL(graphiqlOptions),
    context: async (initial) => {
      // Over HTTP the server gave the request its id; over WebSocket each operation gets one.
      const requestId = (initial.req as { requestId?: string } | undefined)?.requestId ?? randomUUID();
      const ws = initial as WebSocketContext;
      return {
        services,
        // Over WebSocket the caller was authenticated once, at connection_init (see websocket.ts).
        caller:
          ws.extra?.caller ?? (await authenticate(initial.request?.headers.get('authorization'), initial.request?.headers.get('x-tenant'))),
        requestId,
        log: log.child({ requestId }),
        signal: ws.signal ?? initial.request?.signal,
        // Over HTTP, the request's span is current here (useOperationSpans names it after the operation).
        requestSpan: ws.extra || !options.tracing?.enabled ? undefined : currentRequestSpan(options.tracing),
        subscriptionOpened(name: string) {
          observer.subscriptionStarted(name);
          return () => observer.subscriptionEnded(name);
        },
        consistency: requestConsistency(initial.params?.extensions),
      };
    },
    plugins: [
      ...(options.graphiql ? [] : [useGraphiQLOffPage()]),
      useMalformedRequestStatus(),
      ...(options.bearerTokens ? [useUnauthenticatedStatus()] : []),
      ...limitPlugins({ introspection: options.graphiql !== false }),
      useConsistencyExtension(),
      useVariableIssuePaths(),
      useLiteralIssuePaths(),
      useOperationObservability(observer),
      useSharedEventExecution(),
      ...(options.tracing?.enabled ? [useOperationSpans(options.tracing)] : []),
      ...(options.live ? [useLiveQueries(options.live)] : []),
    ],
  });
}

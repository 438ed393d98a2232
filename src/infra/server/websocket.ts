// graphql-ws (subprotocol graphql-transport-ws) on the HTTP server's port and path. The caller is
// authenticated once, from connection_init's `authorization` (close 4403 when that fails, and when the
// token expires); every operation then goes through yoga's envelop (parse, limits, validate, context,
// execute, masking), exactly as over HTTP, with a signal that aborts when the client completes it or the
// socket closes. Messages over 1 MiB close the socket with 1009.
import type { Server } from 'node:http';
import { GraphQLError, type ExecutionArgs } from 'graphql';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import type { YogaServerInstance } from 'graphql-yoga';
import { WebSocketServer } from 'ws';
import type { Authenticator, Caller } from '../../core/caller.ts';
import { runAt } from '../../core/timers.ts';
import type { Metrics } from '../observability/metrics.ts';

export const MAX_MESSAGE_BYTES = 1024 * 1024;

type EnvelopedRoot = { execute: (args: ExecutionArgs) => unknown; subscribe: (args: ExecutionArgs) => unknown };

/** A connection's operations in flight, by id: each one's abort controller and subscribe payload. */
type Operations = Map<string, { controller: AbortController; payload: unknown }>;

const operationsOf = new WeakMap<object, Operations>();

/** The operations of `socket`, ended when it closes or the client sends `complete` for one of them. */
function trackOperations(socket: import('ws').WebSocket): Operations {
  const operations: Operations = new Map();
  socket.on('message', (data, isBinary) => {
    // Only the rare `complete` message is parsed twice (graphql-ws parses every message itself).
    if (isBinary || !data.toString().includes('"complete"')) return;
    try {
      const message = JSON.parse(data.toString()) as { type?: unknown; id?: unknown };
      if (message.type === 'complete' && typeof message.id === 'string') operations.get(message.id)?.controller.abort();
    } catch {
      // graphql-ws answers a malformed message itself.
    }
  });
  socket.once('close', () => {
    for (const { controller } of operations.values()) controller.abort();
    operations.clear();
  });
  return operations;
}

export function attachWebSocket(server: Server, yoga: YogaServerInstance<any, any>, path: string, auth: Authenticator, metrics: Metrics) {
  const wss = new WebSocketServer({ server, path, maxPayload: MAX_MESSAGE_BYTES });
  wss.on('connection', (socket) => {
    metrics.webSocketOpened();
    operationsOf.set(socket, trackOperations(socket));
    socket.once('close', () => metrics.webSocketClosed());
  });
  const disposable = useServer<Record<string, unknown> | undefined, { caller?: Caller }>(
    {
      onConnect: async (ctx) => {
        const authorization = ctx.connectionParams?.authorization;
        try {
          const caller = await auth.authenticate(typeof authorization === 'string' ? authorization : undefined);
          ctx.extra.caller = caller;
          if (caller.expiresAt !== undefined) {
            const cancel = runAt(caller.expiresAt, () => ctx.extra.socket.close(CloseCode.Forbidden, 'Token expired'));
            ctx.extra.socket.once('close', cancel);
          }
          return true;
        } catch {
          return false; // graphql-ws closes with 4403 Forbidden before any operation runs
        }
      },
      onComplete: (ctx, id, payload) => {
        // A completed operation's id may already serve a newer one: only its own entry goes.
        const operations = operationsOf.get(ctx.extra.socket);
        const operation = operations?.get(id);
        if (operation?.payload !== payload) return;
        operation.controller.abort();
        operations!.delete(id);
      },
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args) as never,
      subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args) as never,
      onSubscribe: async (ctx, id, params) => {
        const controller = new AbortController();
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params,
          signal: controller.signal,
        });
        let document;
        try {
          document = parse(params.query);
          const errors = validate(schema, document);
          if (errors.length > 0) return errors;
        } catch (error) {
          // A refused query (too many tokens, say) is the client's error, not the connection's.
          return [error instanceof GraphQLError ? error : new GraphQLError('Invalid query')];
        }
        operationsOf.get(ctx.extra.socket)?.set(id, { controller, payload: params });
        return {
          schema,
          operationName: params.operationName,
          document,
          variableValues: params.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe },
        };
      },
    },
    wss,
  );
  return {
    wss,
    /** Closes every client socket with `code` (1012 tells graphql-ws clients to reconnect). */
    closeClients(code: number, reason: string) {
      for (const client of wss.clients) client.close(code, reason);
    },
    async close() {
      await disposable.dispose();
    },
  };
}

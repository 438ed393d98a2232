// graphql-ws (subprotocol graphql-transport-ws) on the HTTP server's port and path, through graphql-ws's
// makeServer on a `ws` server of our own (noServer, so that the HTTP server's errors stay its own; an
// expected refusal such as an oversized message is logged, not printed as a crash). The caller is
// authenticated once, from connection_init's `authorization` (close 4403 with the reason, and again
// when the token expires); every operation then goes through yoga's envelop (parse, limits, validate,
// context, execute, masking), exactly as over HTTP, with a signal that aborts when the client completes
// it or the socket closes. Messages over 1 MiB close the socket with 1009; silent peers are dropped.
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { type DocumentNode, GraphQLError, type ExecutionArgs } from 'graphql';
import { CloseCode, handleProtocols, makeServer, type ServerOptions } from 'graphql-ws';
import type { YogaServerInstance } from 'graphql-yoga';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Authenticator, Caller } from '../../core/caller.ts';
import type { Logger } from '../../core/logger.ts';
import { runAt } from '../../core/timers.ts';
import type { Metrics } from '../observability/metrics.ts';

export const MAX_MESSAGE_BYTES = 1024 * 1024;

type EnvelopedRoot = { execute: (args: ExecutionArgs) => unknown; subscribe: (args: ExecutionArgs) => unknown };

/** A connection's operations in flight, by id: each one's abort controller and subscribe payload. */
type Operations = Map<string, { controller: AbortController; payload: unknown }>;

const operationsOf = new WeakMap<object, Operations>();

/** The operations of `socket`, ended when it closes or the client sends `complete` for one of them. */
function trackOperations(socket: WebSocket): Operations {
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

type Extra = { socket: WebSocket; request: IncomingMessage; caller?: Caller };

/** graphql-ws's rule: a close reason is at most 123 bytes. */
const closeReason = (reason: string) => (Buffer.byteLength(reason) <= 123 ? reason : `${reason.slice(0, 100)}…`);

export type WebSocketOptions = {
  yoga: YogaServerInstance<any, any>;
  path: string;
  auth: Authenticator;
  metrics: Metrics;
  log: Logger;
  /** A ping every this many ms; a socket that has not answered the previous one by then is dropped. */
  keepAliveMs?: number;
};

export function attachWebSocket(server: Server, options: WebSocketOptions) {
  const { yoga, path, auth, metrics, log, keepAliveMs = 12_000 } = options;
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES, handleProtocols });
  const protocol = makeServer<Record<string, unknown> | undefined, Extra>(graphqlWsOptions(yoga, auth));

  const upgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    if ((request.url ?? '/').split('?')[0] !== path) {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
  };
  server.on('upgrade', upgrade);

  wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    metrics.webSocketOpened();
    operationsOf.set(socket, trackOperations(socket));
    // `ws` has already closed the socket with the fitting code (1009 for an oversized message): the
    // client's fault, worth a line, not a stack.
    socket.on('error', (error) => log.info({ err: error.message }, 'websocket closed on a protocol error'));
    let alive = true;
    socket.on('pong', () => (alive = true));
    const keepAlive = setInterval(() => {
      if (!alive) return socket.terminate();
      alive = false;
      socket.ping();
    }, keepAliveMs);
    // The messages a socket sends in one turn go out in one write: an advance that wakes thousands of
    // subscribers would otherwise cost a system call per message (the socket is the upgraded request's).
    let corked = false;
    const uncork = () => {
      corked = false;
      request.socket.uncork();
    };
    const closed = protocol.opened(
      {
        protocol: socket.protocol,
        send: (data) =>
          new Promise<void>((resolve, reject) => {
            if (socket.readyState !== socket.OPEN) return resolve();
            if (!corked) {
              corked = true;
              request.socket.cork();
              process.nextTick(uncork);
            }
            socket.send(data, (error) => (error ? reject(error) : resolve()));
          }),
        // graphql-ws closes 4403 after onConnect refused; onConnect has closed already, with the reason.
        close: (code, reason) => {
          if (socket.readyState === socket.OPEN) socket.close(code, reason);
        },
        onMessage: (handle) =>
          socket.on('message', async (data) => {
            try {
              await handle(String(data));
            } catch (error) {
              log.error({ err: error }, 'websocket message handling failed');
              if (socket.readyState === socket.OPEN) socket.close(CloseCode.InternalServerError, 'Internal server error');
            }
          }),
      },
      { socket, request },
    );
    socket.once('close', (code, reason) => {
      clearInterval(keepAlive);
      metrics.webSocketClosed();
      void closed(code, reason.toString());
    });
  });

  return {
    wss,
    /** Closes every client socket with `code` (1012 tells graphql-ws clients to reconnect). */
    closeClients(code: number, reason: string) {
      for (const client of wss.clients) client.close(code, reason);
    },
    async close() {
      server.off('upgrade', upgrade);
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

function graphqlWsOptions(
  yoga: YogaServerInstance<any, any>,
  auth: Authenticator,
): ServerOptions<Record<string, unknown> | undefined, Extra> {
  return {
    onConnect: async (ctx) => {
      const authorization = ctx.connectionParams?.authorization;
      const tenant = ctx.connectionParams?.['x-tenant'];
      const { socket } = ctx.extra;
      try {
        const caller = await auth.authenticate(
          typeof authorization === 'string' ? authorization : undefined,
          typeof tenant === 'string' ? tenant : undefined,
        );
        ctx.extra.caller = caller;
        if (caller.expiresAt !== undefined) {
          const cancel = runAt(caller.expiresAt, () => socket.close(CloseCode.Forbidden, 'Forbidden: the token has expired'));
          socket.once('close', cancel);
        }
        return true;
      } catch (error) {
        const problem = error instanceof Error ? error.message : 'authentication failed';
        socket.close(CloseCode.Forbidden, closeReason(`Forbidden: ${problem}`));
        return false; // nothing runs on this connection
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
      let document: DocumentNode;
      try {
        document = parse(params.query);
        const errors = validate(schema, document);
        if (errors.length > 0) return errors;
      } catch (error) {
        // A refused query (too many tokens, say) is the client's error, not the connection's.
        return [error instanceof GraphQLError ? error : new GraphQLError('Invalid query')];
      }
      let contextValue: Awaited<ReturnType<typeof contextFactory>>;
      try {
        contextValue = await contextFactory();
      } catch (error) {
        // Bad input in the request itself (a malformed session token): the operation's error.
        const extensions = (error as { extensions?: Record<string, unknown> }).extensions;
        return [extensions ? new GraphQLError((error as Error).message, { extensions }) : new GraphQLError('Unexpected error.')];
      }
      operationsOf.get(ctx.extra.socket)?.set(id, { controller, payload: params });
      return {
        schema,
        operationName: params.operationName,
        document,
        variableValues: params.variables,
        contextValue,
        rootValue: { execute, subscribe },
      };
    },
  };
}

// The HTTP server: /graphql (yoga: POST, GET, SSE; graphql-ws upgrades on the same path), /health,
// /ready, /metrics and the operator console's files under /console. In front of yoga: bodies over 1 MiB
// are refused with 413, and a POST must be JSON (415 otherwise), which also keeps cross-site form posts
// (CSRF) from ever reaching a mutation.
// Every request gets an id (x-request-id), a log line and its metrics; close() drains gracefully.
import { randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { YogaServerInstance } from 'graphql-yoga';
import type { Authenticator } from '../../core/caller.ts';
import type { Logger } from '../../core/logger.ts';
import { NO_SPAN, noTracing, type Span, type Tracing } from '../../core/tracing.ts';
import type { Metrics } from '../observability/metrics.ts';
import { CONSOLE_PATH, type ConsoleHandler } from './console-assets.ts';
import { attachWebSocket } from './websocket.ts';

export const MAX_BODY_BYTES = 1024 * 1024;

export type ReadinessCheck = () => Promise<{
  ready: boolean;
  checks: Record<string, boolean | string>;
  replicas?: readonly object[];
  /** Reported, never a reason to be unready (NATS_URL). */
  nats?: object;
}>;

export type HttpServerOptions = {
  yoga: YogaServerInstance<any, any>;
  /** When set, /metrics answers only `Authorization: Bearer <metricsToken>` (Prometheus's bearer_token). */
  metricsToken?: string;
  graphqlPath: string;
  readiness: ReadinessCheck;
  /** Serves /console and the paths under it (see console-assets.ts). */
  console?: ConsoleHandler;
  auth: Authenticator;
  metrics: Metrics;
  log: Logger;
  tracing?: Tracing;
};

/**
 * A GraphQL request's server span, the child of the caller's span when it sent a W3C `traceparent`:
 * everything the request does (its operation, commands, waits, log lines) happens inside it.
 */
export function traceRequest<T>(
  tracing: Tracing,
  method: string,
  traceparent: string | null | undefined,
  work: (span: Span) => Promise<T>,
) {
  if (!tracing.enabled) return work(NO_SPAN);
  const attributes = { 'http.request.method': method, 'http.route': '/graphql' };
  return tracing.span(`${method} /graphql`, { kind: 'server', parent: traceparent ?? undefined, attributes }, work);
}

const SANE_ID = /^[\w.:-]{1,100}$/;

/** Compares in constant time, so that a guess learns nothing from how long the answer took. */
function sameSecret(given: string, expected: string): boolean {
  const [a, b] = [Buffer.from(given), Buffer.from(expected)];
  return a.length === b.length && timingSafeEqual(a, b);
}

function sendJson(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

const requestError = (res: ServerResponse, status: number, message: string, code: string) =>
  sendJson(res, status, { errors: [{ message, extensions: { code } }] });

const isJson = (contentType: string | undefined) => /^application\/(graphql-response\+)?json\s*(;|$)/i.test(contentType ?? '');

/** Reads a body (a Node request or a fetch Request's stream) up to the limit; null when it is larger. */
async function readLimited(body: AsyncIterable<Uint8Array>) {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > MAX_BODY_BYTES) return null; // leaving the loop cancels a web stream
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

const TOO_LARGE = { message: `The request body is larger than ${MAX_BODY_BYTES} bytes`, code: 'PAYLOAD_TOO_LARGE' };

/**
 * The body limit for requests that do not come through the HTTP server (App.fetch): the request with
 * its body read into memory, or a 413 response when it is larger than MAX_BODY_BYTES.
 */
export async function limitRequestBody(request: Request): Promise<Request | Response> {
  if (!request.body) return request;
  const body = await readLimited(request.body as unknown as AsyncIterable<Uint8Array>);
  if (body === null) {
    return Response.json({ errors: [{ message: TOO_LARGE.message, extensions: { code: TOO_LARGE.code } }] }, { status: 413 });
  }
  return new Request(request, { body });
}

/**
 * Writes a fetch Response's body to `res` chunk by chunk (an SSE stream included), and stops reading when
 * the client leaves. yoga's bodies are whatwg-node streams, which Readable.fromWeb does not drain.
 */
async function writeBody(response: Response, res: ServerResponse) {
  const reader = response.body?.getReader();
  if (!reader) return void res.end();
  const left = () => void reader.cancel().catch(() => {});
  res.once('close', left);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done || res.destroyed) break;
      if (!res.write(value)) await new Promise((resolve) => res.once('drain', resolve));
    }
  } finally {
    res.off('close', left);
    res.end();
  }
}

const isConsole = (path: string) => path === CONSOLE_PATH || path.startsWith(`${CONSOLE_PATH}/`);

export function createHttpServer(options: HttpServerOptions) {
  const { yoga, readiness, metrics, log } = options;
  const tracing = options.tracing ?? noTracing;
  let inFlight = 0;
  let closing = false;
  const streams = new Set<ServerResponse>();

  async function graphql(req: IncomingMessage, res: ServerResponse) {
    if (req.method === 'POST') {
      if (!isJson(req.headers['content-type'])) {
        return requestError(res, 415, 'POST bodies must be JSON: send "content-type: application/json"', 'UNSUPPORTED_MEDIA_TYPE');
      }
      const length = req.headers['content-length'];
      if (length !== undefined && Number(length) > MAX_BODY_BYTES) {
        res.setHeader('connection', 'close');
        return requestError(res, 413, TOO_LARGE.message, TOO_LARGE.code);
      }
      if (length === undefined) {
        // No length given (chunked): count while reading, then hand yoga the body. As yoga does for the
        // requests it reads itself, the request's signal aborts when the client leaves.
        const left = new AbortController();
        res.once('close', () => left.abort());
        const body = await readLimited(req as AsyncIterable<Buffer>);
        if (body === null) {
          res.setHeader('connection', 'close');
          return requestError(res, 413, TOO_LARGE.message, TOO_LARGE.code);
        }
        const headers = new Headers();
        for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string') headers.set(name, value);
        const url = `http://${req.headers.host ?? 'localhost'}${req.url}`;
        const response = await yoga.fetch(url, { method: 'POST', headers, body, signal: left.signal }, { req });
        res.writeHead(response.status, Object.fromEntries(response.headers));
        await writeBody(response, res);
        return;
      }
    }
    return yoga(req, res);
  }

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const given = req.headers['x-request-id'];
    const requestId = typeof given === 'string' && SANE_ID.test(given) ? given : randomUUID();
    (req as IncomingMessage & { requestId?: string }).requestId = requestId;
    res.setHeader('x-request-id', requestId);
    const route = ['/graphql', '/health', '/ready', '/metrics'].includes(path) ? path : isConsole(path) ? CONSOLE_PATH : 'other';
    const started = performance.now();
    let trace: string | undefined;
    inFlight++;
    const streaming = route === '/graphql' && /text\/event-stream/.test(req.headers.accept ?? '');
    if (streaming) streams.add(res);
    res.once('close', () => {
      inFlight--;
      streams.delete(res);
      const seconds = (performance.now() - started) / 1000;
      metrics.httpRequest(route, req.method ?? 'GET', res.statusCode, seconds);
      const line = {
        requestId,
        method: req.method,
        path,
        status: res.statusCode,
        durationMs: Math.round(seconds * 1e4) / 10,
        // Written once the response is gone, outside its span: the span's ids are given here.
        ...(trace && { trace_id: trace.slice(3, 35), span_id: trace.slice(36, 52) }),
      };
      if (route === '/graphql') log.info(line, 'http request');
      else log.debug(line, 'http request');
    });
    if (closing) {
      res.setHeader('connection', 'close');
      return sendJson(res, 503, { error: 'The server is shutting down' });
    }
    if (path === '/health') return sendJson(res, 200, { status: 'ok' });
    if (path === '/metrics') {
      if (options.metricsToken && !sameSecret(req.headers.authorization ?? '', `Bearer ${options.metricsToken}`)) {
        res.setHeader('www-authenticate', 'Bearer realm="metrics"');
        return sendJson(res, 401, { error: 'metrics need "Authorization: Bearer <METRICS_TOKEN>"' });
      }
      return void metrics.render().then(
        (text) => {
          res.writeHead(200, { 'content-type': metrics.contentType });
          res.end(text);
        },
        () => sendJson(res, 500, { error: 'metrics unavailable' }),
      );
    }
    if (path === '/ready') {
      return void readiness().then(
        (r) => sendJson(res, r.ready ? 200 : 503, r),
        () => sendJson(res, 503, { ready: false }),
      );
    }
    if (path === options.graphqlPath) {
      const traceparent = req.headers.traceparent;
      const traced = traceRequest(tracing, req.method ?? 'GET', typeof traceparent === 'string' ? traceparent : undefined, async (span) => {
        trace = span.traceparent();
        await graphql(req, res);
        span.setAttributes({ 'http.response.status_code': res.statusCode });
      });
      return void traced.catch(() => {
        if (!res.headersSent) requestError(res, 500, 'Unexpected error.', 'INTERNAL_SERVER_ERROR');
        else res.destroy();
      });
    }
    if (options.console && isConsole(path)) return options.console(req, res, path);
    sendJson(res, 404, { error: `Nothing at ${path}; GraphQL is at ${options.graphqlPath}` });
  };
  const server = createServer(handle);
  const ws = attachWebSocket(server, { yoga, path: options.graphqlPath, auth: options.auth, metrics, log });
  return {
    server,
    ws,
    listen(port: number, host: string) {
      return new Promise<AddressInfo>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve(server.address() as AddressInfo);
        });
      });
    },
    /**
     * Graceful: stop accepting; WebSocket clients are told to reconnect (1012, service restart); SSE
     * streams end; requests in flight (commands among them) may finish for up to `graceMs`.
     */
    async close(graceMs = 7000) {
      closing = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      ws.closeClients(1012, 'Server restarting');
      for (const res of streams) res.end();
      server.closeIdleConnections();
      const deadline = Date.now() + graceMs;
      while (inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      server.closeAllConnections();
      await ws.close();
      await closed;
    },
  };
}

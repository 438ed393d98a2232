// The HTTP server: /graphql (yoga: POST, GET, SSE; graphql-ws upgrades on the same path), /health and /ready.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { YogaServerInstance } from 'graphql-yoga';
import { attachWebSocket } from './websocket.ts';

export type ReadinessCheck = () => Promise<{ ready: boolean; checks: Record<string, boolean | string> }>;

export type HttpServerOptions = {
  yoga: YogaServerInstance<any, any>;
  graphqlPath: string;
  readiness: ReadinessCheck;
};

function sendJson(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(text);
}

export function createHttpServer(options: HttpServerOptions) {
  const { yoga, readiness } = options;
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/health') return sendJson(res, 200, { status: 'ok' });
    if (path === '/ready') {
      return void readiness().then(
        (r) => sendJson(res, r.ready ? 200 : 503, r),
        () => sendJson(res, 503, { ready: false }),
      );
    }
    if (path === options.graphqlPath) return void yoga(req, res);
    sendJson(res, 404, { error: `Nothing at ${path}; GraphQL is at ${options.graphqlPath}` });
  };
  const server = createServer(handle);
  const ws = attachWebSocket(server, yoga, options.graphqlPath);
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
    async close() {
      await ws.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

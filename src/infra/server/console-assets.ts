// The operator console's static files (console/, built into console/dist by `npm run build:console`),
// served at /console by sirv: content types, ETags, hashed assets kept by browsers for good, the page
// itself revalidated, and a Content-Security-Policy that lets the page load only its own files and talk
// only to this server (the GraphQL API, over HTTP and WebSocket). No CDN: everything comes from here.
import { existsSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sirv from 'sirv';
import type { Logger } from '../../core/logger.ts';

export const CONSOLE_PATH = '/console';

export type ConsoleHandler = (req: IncomingMessage, res: ServerResponse, path: string) => void;

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * The folder the build writes to: console/dist beside the package's console/ sources, found upwards from
 * this file, so that it is the same from src/ (tsx) and from a compiled copy.
 */
export function consoleAssetsDir(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'console', 'index.html'))) return join(dir, 'console', 'dist');
    if (dirname(dir) === dir) return join(from, 'console', 'dist');
  }
}

function plain(res: ServerResponse, status: number, text: string) {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`${text}\n`);
}

const answer =
  (status: number, text: string): ConsoleHandler =>
  (_req, res) =>
    plain(res, status, text);

/** `enabled` false (CONSOLE=off): every /console path answers 404 saying how to turn it on. */
export function createConsoleHandler(options: { enabled: boolean; dir?: string; log?: Logger }): ConsoleHandler {
  if (!options.enabled) return answer(404, 'The console is off on this server; CONSOLE=on serves it at /console.');
  const dir = options.dir ?? consoleAssetsDir();
  if (!existsSync(join(dir, 'index.html'))) {
    options.log?.warn({ dir }, 'the console is not built: /console answers 503 until "npm run build:console" and a restart');
    return answer(
      503,
      `The console is not built (no ${join(dir, 'index.html')}): run "npm run build:console", then start the server again.`,
    );
  }
  let serve: ReturnType<typeof sirv>;
  try {
    serve = files(dir);
  } catch (error) {
    // A build replacing the folder under us (tests build it while other servers start): served once restarted.
    options.log?.warn({ dir, error: String(error) }, 'the console files could not be read: /console answers 503 until a restart');
    return answer(503, `The console files in ${dir} could not be read; start the server again.`);
  }
  return (req, res, path) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return plain(res, 405, 'The console answers GET and HEAD only; its operations go to /graphql.');
    }
    // Vite's base is /console/: the page's own links are absolute, so /console works as well as /console/.
    const query = req.url?.slice(path.length) ?? '';
    req.url = (path.slice(CONSOLE_PATH.length) || '/') + query;
    serve(req, res, () => plain(res, 404, `Nothing at ${path}; the console is at ${CONSOLE_PATH}/`));
  };
}

/** The files of `dir`, listed once (sirv's production mode), with their headers. */
function files(dir: string) {
  return sirv(dir, {
    etag: true,
    setHeaders(res, pathname) {
      res.setHeader('x-content-type-options', 'nosniff');
      res.setHeader('referrer-policy', 'no-referrer');
      if (pathname.startsWith('/assets/')) res.setHeader('cache-control', 'public, max-age=31536000, immutable');
      else {
        res.setHeader('cache-control', 'no-cache');
        res.setHeader('content-security-policy', CSP);
      }
    },
  });
}

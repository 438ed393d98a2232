// Is the port free? Asked at start, before the database is opened and migrated (seconds on a fresh PGlite
// folder), so that a port in use is reported at once rather than after all that work.
import { createServer } from 'node:net';

/**
 * Listens on host:port and lets go again; rejects with the listen error (code EADDRINUSE, EACCES…) when
 * it cannot. Port 0 (any free port) needs no check. Another process may still take the port before the
 * server listens: the real listen reports that the same way.
 */
export function assertPortFree(port: number, host: string): Promise<void> {
  if (port === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve()));
  });
}

/** One line for an operator when the server may not listen there; undefined for another error. */
export function listenRefusal(error: unknown, port: number, host: string): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EADDRINUSE') return `${host}:${port} is already in use; stop the other server or set PORT`;
  if (code === 'EACCES') return `not allowed to listen on ${host}:${port}; choose another PORT`;
  if (code === 'EADDRNOTAVAIL') return `${host} is not an address of this machine; set HOST to one of its addresses (or 0.0.0.0)`;
  return undefined;
}

// Which database, in words an operator can check: the PGlite folder, or host:port/database of a URL
// (never its user or password).
import { resolve } from 'node:path';
import type { DatabaseOptions } from './database.ts';

/** host:port/database of a postgres:// URL. */
export function urlLabel(url: string): string {
  const parsed = new URL(url);
  return `${parsed.hostname}:${parsed.port || '5432'}${parsed.pathname === '/' ? '' : parsed.pathname}`;
}

/** "PostgreSQL host:port/database (DATABASE_URL)" or "PGlite folder /abs/path (DATABASE_URL is not set)". */
export function databaseLabel(options: DatabaseOptions): string {
  if ('url' in options) return `PostgreSQL ${urlLabel(options.url)} (DATABASE_URL)`;
  const dir = options.pgliteDir.startsWith('memory://') ? options.pgliteDir : resolve(options.pgliteDir);
  return `PGlite folder ${dir} (DATABASE_URL is not set)`;
}

// Executors from a driver's "run this text with these parameters": drizzle `sql` templates are rendered
// here, and every driver error that means "the database is away" becomes the core's UnavailableError.
import type { SQL } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import type { Executor } from '../../core/sql.ts';
import { toCoreError } from './errors.ts';

export type Run = <T>(text: string, params: readonly unknown[]) => Promise<T[]>;

const dialect = new PgDialect();

export const toQuery = (query: SQL) => dialect.sqlToQuery(query);

/** Rejects with UnavailableError where the driver's error means an outage; other errors pass as they are. */
export const translated = <T>(work: Promise<T>): Promise<T> => work.catch((error: unknown) => Promise.reject(toCoreError(error)));

export function executorOf(run: Run): Executor {
  return {
    rows<T>(query: SQL) {
      const { sql: text, params } = toQuery(query);
      return translated(run<T>(text, params));
    },
    query: (text, params) => translated(run(text, params)),
  };
}

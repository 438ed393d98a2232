// A database whose statements are recorded as they go out, by where they go: the pool, a transaction,
// the projections' lookups pool or their batch pool. `alter` may change a statement's answer; `after`
// runs once a statement has answered, on the same executor (inside its transaction, if any).
import type { Executor } from '../../src/core/sql.ts';
import type { Database } from '../../src/infra/db/database.ts';
import { toQuery } from '../../src/infra/db/executor.ts';

export type Via = 'pool' | 'transaction' | 'lookups' | 'batches';
export type Sent = { via: Via; text: string; params: readonly unknown[]; executor: Executor };

export function watchStatements(
  database: Database,
  options: { alter?: (sent: Sent, rows: unknown[]) => unknown[]; after?: (sent: Sent) => Promise<void> } = {},
) {
  const sent: Sent[] = [];
  const watch = (via: Via, executor: Executor): Executor => {
    const record = async <T>(text: string, params: readonly unknown[], run: () => Promise<T[]>) => {
      const entry = { via, text, params, executor };
      sent.push(entry);
      const rows = await run();
      await options.after?.(entry);
      return (options.alter ? options.alter(entry, rows) : rows) as T[];
    };
    return {
      rows: (query) => {
        const { sql, params } = toQuery(query);
        return record(sql, params, () => executor.rows(query));
      },
      query: (text, params) => record(text, params, () => executor.query(text, params)),
    };
  };
  const watched: Database = {
    ...database,
    ...watch('pool', database),
    transaction: (work) => database.transaction((tx) => work(watch('transaction', tx))),
    projectionLookups: watch('lookups', database.projectionLookups),
    projectionBatches: watch('batches', database.projectionBatches),
  };
  return { database: watched, sent };
}

/** A statement the projection storage sends to read a projection's lookups on their own. */
export const isLookupRead = (text: string) => text.startsWith('with lookup_0_keys');

// The rows the batch statement answers (see batch-statement.ts) as the events of a step.
import type { StoredEvent } from '../../core/messages.ts';
import type { EventRow } from '../event-store/event-rows.ts';
import type { LookupResult } from './lookups.ts';

/**
 * One row per event, or one row of nulls when there is none; `found` (the lookups, one entry per
 * projection of the statement) on the first.
 */
export type BatchRow = { [K in keyof EventRow]: EventRow[K] | null } & {
  moved: string[];
  pending: boolean;
  found?: (LookupResult | null)[] | null;
};

export const batchEvents = (rows: readonly BatchRow[], toStoredEvent: (row: EventRow) => StoredEvent) => ({
  events: rows[0]?.tx == null ? [] : rows.map((row) => toStoredEvent(row as EventRow)),
  /** Committed events lie beyond the batch, not visible yet: read again soon. */
  pending: rows[0]?.pending === true,
  /** The projections still at the checkpoint the step read from (live), or whose shadow checkpoint it moved. */
  moved: new Set(rows[0]?.moved ?? []),
  /** What the lookups of the statement's `j`th projection found, if it carried them. */
  found: (j: number) => rows[0]?.found?.[j] ?? null,
});

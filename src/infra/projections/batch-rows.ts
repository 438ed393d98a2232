// The rows the batch statement answers (see batch-statement.ts) as the events of a step.
import type { StoredEvent } from '../../core/messages.ts';
import type { EventRow } from '../event-store/event-rows.ts';
import type { LookupResult } from './lookups.ts';

/** One row per event, or one row of nulls when there is none; `found` (the lookups) on the first. */
export type BatchRow = { [K in keyof EventRow]: EventRow[K] | null } & { moved: number; pending: boolean; found?: LookupResult | null };

export const batchEvents = (rows: readonly BatchRow[], toStoredEvent: (row: EventRow) => StoredEvent) => ({
  events: rows[0]?.tx == null ? [] : rows.map((row) => toStoredEvent(row as EventRow)),
  /** Committed events lie beyond the batch, not visible yet: read again soon. */
  pending: rows[0]?.pending === true,
  /** The checkpoint is still where the step read from (live), or was moved by it (shadow). */
  moved: rows[0]?.moved !== 0,
});

// The fulfilment process's own state, written with its checkpoint (never rebuilt): what it knows of each
// order it handled. Order.fulfilment reads it for orders that have no outcome event.
import { jsonb, pgTable, text } from 'drizzle-orm/pg-core';
import { type RowOf, selectList } from '../../core/tables.ts';
import { FULFILMENT_STATUSES } from '../events.ts';

/** Each order the process handled: its status, and the skus it holds reserved. */
export const fulfilmentProcess = pgTable('fulfilment_process', {
  orderId: text('order_id').primaryKey(),
  status: text('status', { enum: FULFILMENT_STATUSES }).notNull(),
  skus: jsonb('skus').$type<string[]>().notNull(),
});

export type ProcessRow = RowOf<typeof fulfilmentProcess>;

export const PROCESS_ROW_COLUMNS = selectList(fulfilmentProcess);

// The fulfilment tables: the process's own state (written with its checkpoint) and the read model of
// outcomes behind Order.fulfilment.
import { jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

/** What the fulfilment process knows of each order it handled: its status, and the skus it holds reserved. */
export const fulfilmentProcess = pgTable('fulfilment_process', {
  orderId: text('order_id').primaryKey(),
  status: text('status').notNull(),
  skus: jsonb('skus').$type<string[]>().notNull(),
});

/** Each order's fulfilment status, from the outcome events (no row: PENDING). */
export const orderFulfilments = pgTable('order_fulfilments', {
  orderId: text('order_id').primaryKey(),
  status: text('status').notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'string' }).notNull(),
});

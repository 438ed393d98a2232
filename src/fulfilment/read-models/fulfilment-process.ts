// The fulfilment process's own state, written with its checkpoint (never rebuilt): what it knows of each
// order it handled, of each product's stock as its decisions left it, and which orders wait for each
// product. Order.fulfilment reads the orders' rows for orders that have no outcome event.
import { integer, jsonb, pgTable, text } from 'drizzle-orm/pg-core';
import type { RowOf } from '../../core/tables.ts';
import { FULFILMENT_STATUSES } from '../../orders/fulfilment/events.ts';

/** Where an event stands in the global order, as text (xid8 and bigint). */
export type PlacedAt = { tx: string; pos: string };

/** Each order the process handled. */
export const fulfilmentProcess = pgTable('fulfilment_process', {
  orderId: text('order_id').primaryKey(),
  status: text('status', { enum: FULFILMENT_STATUSES }).notNull(),
  /** The skus it holds reserved. */
  skus: jsonb('skus').$type<string[]>().notNull(),
  /** Its stock-controlled quantity per sku; null for an order handled before the process kept it. */
  needs: jsonb('needs').$type<Record<string, number>>(),
  /** Where its OrderCreated stands: backorders are filled in the order orders were placed. */
  placed: jsonb('placed').$type<PlacedAt>(),
});

/**
 * Each product's stock as the process's decisions left it: on hand (created, restocked, committed) and
 * reserved. The process is the only one to reserve, release and commit, so the product's own stock is
 * never below this (it may be above it by restocks the process has not handled yet).
 */
export const fulfilmentStock = pgTable('fulfilment_stock', {
  sku: text('sku').primaryKey(),
  onHand: integer('on_hand').notNull(),
  reserved: integer('reserved').notNull(),
});

/** The backordered orders that need each product, in the order they were placed. */
export const fulfilmentBackorders = pgTable('fulfilment_backorders', {
  sku: text('sku').primaryKey(),
  orders: jsonb('orders').$type<(PlacedAt & { orderId: string })[]>().notNull(),
});

export type ProcessRow = RowOf<typeof fulfilmentProcess>;
export type StockRow = RowOf<typeof fulfilmentStock>;
export type BackorderRow = RowOf<typeof fulfilmentBackorders>;

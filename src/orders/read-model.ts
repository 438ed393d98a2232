// The Orders read models (drizzle tables). Each is owned by one projection: `orders` by the orders
// projection, `customer_summaries` and its helper `customer_summary_orders` by customer_summaries.
import { sql } from 'drizzle-orm';
import { index, integer, jsonb, numeric, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { isoTime } from '../core/sql.ts';
import type { Address, OrderLine } from './events.ts';

export type OrderItemRow = OrderLine & { lineTotal: string };

export const orders = pgTable(
  'orders',
  {
    id: text('id').primaryKey(),
    customerId: text('customer_id').notNull(),
    status: text('status').notNull(),
    items: jsonb('items').$type<OrderItemRow[]>().notNull(),
    itemCount: integer('item_count').notNull(),
    totalAmount: numeric('total_amount', { precision: 20, scale: 2 }).notNull(),
    shippingAddress: jsonb('shipping_address').$type<Address>().notNull(),
    version: integer('version').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'string' }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'string' }).notNull(),
    shippedAt: timestamp('shipped_at', { withTimezone: true, mode: 'string' }),
    cancelledAt: timestamp('cancelled_at', { withTimezone: true, mode: 'string' }),
    cancelReason: text('cancel_reason'),
    cancelledBy: text('cancelled_by'),
    /** Lower-cased order id, customer id, product ids and city, for searchOrders. */
    searchText: text('search_text').notNull(),
  },
  (t) => [
    index('orders_customer_created_idx').on(t.customerId, t.createdAt, t.id),
    index('orders_customer_status_created_idx').on(t.customerId, t.status, t.createdAt, t.id),
    index('orders_search_trgm_idx').using('gin', sql`${t.searchText} gin_trgm_ops`),
    index('orders_created_idx').on(t.createdAt, t.id),
    index('orders_total_idx').on(t.totalAmount, t.id),
  ],
);

export const customerSummaries = pgTable('customer_summaries', {
  customerId: text('customer_id').primaryKey(),
  orderCount: integer('order_count').notNull(),
  cancelledCount: integer('cancelled_count').notNull(),
  totalSpent: numeric('total_spent', { precision: 22, scale: 2 }).notNull(),
  lastOrderAt: timestamp('last_order_at', { withTimezone: true, mode: 'string' }),
});

/** What customer_summaries needs to know of each order, since later events carry only the order id. */
export const customerSummaryOrders = pgTable('customer_summary_orders', {
  orderId: text('order_id').primaryKey(),
  customerId: text('customer_id').notNull(),
  status: text('status').notNull(),
  totalAmount: numeric('total_amount', { precision: 20, scale: 2 }).notNull(),
});

/** An `orders` row as the Order type shows it. */
export type OrderView = {
  id: string;
  customerId: string;
  status: 'PLACED' | 'CANCELLED' | 'SHIPPED';
  items: OrderItemRow[];
  itemCount: number;
  totalAmount: string;
  shippingAddress: Address;
  version: number;
  createdAt: string;
  updatedAt: string;
  shippedAt: string | null;
  cancelledAt: string | null;
  cancelReason: string | null;
  cancelledBy: string | null;
};

/** Columns of `orders` selected as OrderView, with exact text for money and ISO text for times. */
export const ORDER_VIEW_COLUMN_LIST = [
  'id',
  'customer_id as "customerId"',
  'status',
  'items',
  'item_count as "itemCount"',
  'total_amount::text as "totalAmount"',
  'shipping_address as "shippingAddress"',
  'version',
  `${isoTime('created_at')} as "createdAt"`,
  `${isoTime('updated_at')} as "updatedAt"`,
  `${isoTime('shipped_at')} as "shippedAt"`,
  `${isoTime('cancelled_at')} as "cancelledAt"`,
  'cancel_reason as "cancelReason"',
  'cancelled_by as "cancelledBy"',
].join(', ');
export const ORDER_VIEW_COLUMNS = sql.raw(ORDER_VIEW_COLUMN_LIST);

export type CustomerSummaryView = {
  customerId: string;
  orderCount: number;
  cancelledCount: number;
  totalSpent: string;
  lastOrderAt: string | null;
};

export const CUSTOMER_SUMMARY_VIEW_COLUMN_LIST = [
  'customer_id as "customerId"',
  'order_count as "orderCount"',
  'cancelled_count as "cancelledCount"',
  'total_spent::text as "totalSpent"',
  `${isoTime('last_order_at')} as "lastOrderAt"`,
].join(', ');
export const CUSTOMER_SUMMARY_VIEW_COLUMNS = sql.raw(CUSTOMER_SUMMARY_VIEW_COLUMN_LIST);

// The `order_fulfilments` read model: each order's fulfilment status from the outcome events; the
// projection that keeps it, and orderFulfilment(orderId), which Order.fulfilment reads.
import { pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { z } from 'zod';
import { id } from '../../core/input-fields.ts';
import { createMicroBatcher } from '../../core/micro-batch.ts';
import type { QueryDefinition } from '../../core/module.ts';
import { defineSqlProjection } from '../../core/sql-projection.ts';
import { parseWith } from '../../core/validation.ts';
import {
  FULFILMENT_EVENT_TYPES,
  FULFILMENT_STATUSES,
  type FulfilmentEvent,
  type FulfilmentStatus,
  statusOf,
} from '../../orders/fulfilment/events.ts';

export const ORDER_FULFILMENTS_PROJECTION = 'order_fulfilments';
/** The process manager whose state holds the status of orders with no outcome event. */
export const FULFILMENT_PROCESS = 'fulfilment';

/** Each order's fulfilment status, from the outcome events (no row: see orderFulfilment). */
export const orderFulfilments = pgTable('order_fulfilments', {
  orderId: text('order_id').primaryKey(),
  status: text('status', { enum: FULFILMENT_STATUSES }).notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'string' }).notNull(),
});

export const orderFulfilmentsProjection = defineSqlProjection<FulfilmentEvent>()({
  name: ORDER_FULFILMENTS_PROJECTION,
  handles: FULFILMENT_EVENT_TYPES,
  tables: [orderFulfilments],
  apply(events, { upsert }) {
    upsert(
      orderFulfilments,
      events.map((event) => ({ orderId: event.data.orderId, status: statusOf[event.type], updatedAt: event.data.at })),
    );
  },
});

export const orderFulfilmentParams = z.object({ orderId: id });
export type OrderFulfilmentParams = z.input<typeof orderFulfilmentParams>;

const BY_ORDER = `select o.id as "orderId", coalesce(f.status, p.status) as status
  from jsonb_array_elements_text($1::jsonb) as o(id)
  left join order_fulfilments f on f.order_id = o.id
  left join fulfilment_process p on p.order_id = o.id
  where f.status is not null or p.status is not null`;

/**
 * orderFulfilment(orderId): PENDING until the process has handled the order; then the last outcome
 * event's status, else the process's own state (an order with nothing stock-controlled is RESERVED
 * there, with no event). Callers read the order first, which checks they may see it. Asked for every
 * order of a page: lookups that arrive together share one query.
 */
export const orderFulfilmentQuery: QueryDefinition<OrderFulfilmentParams, FulfilmentStatus> = {
  projections: [ORDER_FULFILMENTS_PROJECTION, FULFILMENT_PROCESS],
  create({ db }) {
    const load = createMicroBatcher(async (ids: readonly string[]) => {
      const rows = await db.query<{ orderId: string; status: FulfilmentStatus }>(BY_ORDER, [JSON.stringify(ids)]);
      const status = new Map(rows.map((row) => [row.orderId, row.status]));
      return ids.map((orderId) => status.get(orderId) ?? 'PENDING');
    });
    return async (params) => load(parseWith(orderFulfilmentParams, params).orderId);
  },
};

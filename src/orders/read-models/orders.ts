// The `orders` read model: one row per order with everything the Order type shows, the projection that
// keeps it (a batch is folded in memory per order, starting from the rows of the orders it changes, and
// written with one upsert), and the queries that read it: order, customerOrders and searchOrders.
import { sql } from 'drizzle-orm';
import { index, integer, jsonb, numeric, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { z } from 'zod';
import { assertAdmin, assertCustomerAccess, isAdmin } from '../../core/caller.ts';
import { id, paging, text as textInput, type Page } from '../../core/input-fields.ts';
import { assertNever } from '../../core/messages.ts';
import { createMicroBatcher } from '../../core/micro-batch.ts';
import type { QueryDefinition } from '../../core/module.ts';
import { centsOf, formatMoney, lineTotal } from '../../core/money.ts';
import { readPage } from '../../core/pages.ts';
import { defineSqlProjection, type HandledEvent, lookup } from '../../core/sql-projection.ts';
import { type RowOf, selectList } from '../../core/tables.ts';
import { parseWith } from '../../core/validation.ts';
import { type Address, LATER_ORDER_EVENT_TYPES, ORDER_STREAM_EVENT_TYPES, type OrderLine, type OrderStreamEvent } from '../events.ts';
import { ORDER_STATUSES, orderStatus, PAYMENT_STATUSES } from '../order.ts';

export const ORDERS_PROJECTION = 'orders';

export type OrderItemRow = OrderLine & { lineTotal: string };

export const orders = pgTable(
  'orders',
  {
    id: text('id').primaryKey(),
    customerId: text('customer_id').notNull(),
    status: text('status', { enum: ORDER_STATUSES }).notNull(),
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
    paymentStatus: text('payment_status', { enum: PAYMENT_STATUSES }).notNull().default('UNPAID'),
    paidAt: timestamp('paid_at', { withTimezone: true, mode: 'string' }),
    /** Lower-cased order id, customer id and product ids, for searchOrders (never personal data). */
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

/** An order as the Order type shows it: its row without the search text. */
export type OrderView = Omit<RowOf<typeof orders>, 'searchText'>;

/** What searchOrders matches: the order id, customer id and product ids, lower-cased; never personal data (the address is sealed). */
export function searchText(order: Pick<OrderView, 'id' | 'customerId' | 'items'>): string {
  // U+001F (unit separator) keeps a query from matching across two fields.
  return [order.id, order.customerId, ...order.items.map((i) => i.productId)].join('\u001f').toLowerCase();
}

export function evolveOrderView(order: OrderView | undefined, event: HandledEvent<OrderStreamEvent, OrderStreamEvent['type']>): OrderView {
  if (event.type === 'OrderCreated') {
    const items: OrderItemRow[] = event.data.items.map((i) => ({ ...i, lineTotal: lineTotal(i.quantity, i.unitPrice) }));
    return {
      id: event.data.orderId,
      customerId: event.data.customerId,
      status: 'PLACED',
      items,
      itemCount: items.reduce((n, i) => n + i.quantity, 0),
      totalAmount: formatMoney(items.reduce((sum, i) => sum + centsOf(i.lineTotal), 0n)),
      shippingAddress: event.data.shippingAddress,
      version: event.version,
      createdAt: event.data.createdAt,
      updatedAt: event.data.createdAt,
      shippedAt: null,
      cancelledAt: null,
      cancelReason: null,
      cancelledBy: null,
      paymentStatus: 'UNPAID',
      paidAt: null,
    };
  }
  if (!order) throw new Error(`${event.type} for order ${event.streamId}, which the read model does not have`);
  switch (event.type) {
    case 'OrderItemAdded': {
      const { productId, quantity, unitPrice, addedAt } = event.data;
      const item = { productId, quantity, unitPrice, lineTotal: lineTotal(quantity, unitPrice) };
      return {
        ...order,
        items: [...order.items, item],
        itemCount: order.itemCount + quantity,
        totalAmount: formatMoney(centsOf(order.totalAmount) + centsOf(item.lineTotal)),
        version: event.version,
        updatedAt: addedAt,
      };
    }
    case 'OrderCancelled':
      return {
        ...order,
        status: 'CANCELLED',
        cancelledAt: event.data.cancelledAt,
        cancelReason: event.data.reason,
        cancelledBy: event.data.cancelledBy,
        version: event.version,
        updatedAt: event.data.cancelledAt,
      };
    case 'OrderShipped':
      return { ...order, status: 'SHIPPED', shippedAt: event.data.shippedAt, version: event.version, updatedAt: event.data.shippedAt };
    case 'OrderPaid':
      return { ...order, paymentStatus: 'PAID', paidAt: event.data.paidAt, version: event.version, updatedAt: event.data.paidAt };
    default:
      return assertNever(event, 'order event');
  }
}

export const ordersProjection = defineSqlProjection<OrderStreamEvent>()({
  name: ORDERS_PROJECTION,
  handles: ORDER_STREAM_EVENT_TYPES,
  tables: [orders],
  lookups: {
    orders: lookup(orders, { key: orders.id, keys: [{ streamId: true, types: [...LATER_ORDER_EVENT_TYPES, 'OrderPaid'] }] }),
  },
  apply(events, { found, upsert }) {
    const changed = new Map<string, OrderView>();
    for (const event of events) {
      const next = evolveOrderView(changed.get(event.streamId) ?? found.orders.get(event.streamId), event);
      changed.set(next.id, next);
    }
    upsert(
      orders,
      [...changed.values()].map((order) => ({ ...order, searchText: searchText(order) })),
    );
  },
});

/** The columns of an OrderView, as read from `orders`. */
export const ORDER_VIEW_COLUMNS = selectList(orders, { except: [orders.searchText] });

export const orderParams = z.object({ id });
export type OrderParams = z.input<typeof orderParams>;

/** The hot read path's text, written once: $1 is the ids as one JSON array. */
const ORDERS_BY_ID = `select ${ORDER_VIEW_COLUMNS} from orders where id = any(array(select jsonb_array_elements_text($1::jsonb)))`;

/** order(id): one order, or null. Lookups that arrive together (concurrent requests) share one query. */
export const orderQuery: QueryDefinition<OrderParams, OrderView | null> = {
  projections: [ORDERS_PROJECTION],
  create({ db }) {
    const load = createMicroBatcher(async (ids: readonly string[]) => {
      const rows = new Map((await db.query<OrderView>(ORDERS_BY_ID, [JSON.stringify(ids)])).map((row) => [row.id, row]));
      return ids.map((orderId) => rows.get(orderId) ?? null);
    });
    return async (params, { caller }) => {
      const { id: orderId } = parseWith(orderParams, params);
      const row = await load(orderId);
      if (row) assertCustomerAccess(caller, row.customerId, `order ${orderId}`);
      return row;
    };
  },
};

export const customerOrdersParams = z.object({ customerId: id, status: orderStatus.nullish(), ...paging });
export type CustomerOrdersParams = z.input<typeof customerOrdersParams>;

/**
 * customerOrders(customerId, status): a customer's orders, newest first, a page at a time (served by
 * orders_customer_created_idx and orders_customer_status_created_idx).
 */
export const customerOrdersQuery: QueryDefinition<CustomerOrdersParams, Page<OrderView>> = {
  projections: [ORDERS_PROJECTION],
  create: ({ db }) =>
    async function customerOrders(params, { caller }) {
      const { customerId, status, page, pageSize } = parseWith(customerOrdersParams, params);
      assertCustomerAccess(caller, customerId, `the orders of customer ${customerId}`);
      const where = status ? sql`customer_id = ${customerId} and status = ${status}` : sql`customer_id = ${customerId}`;
      return readPage<OrderView>(db, {
        columns: ORDER_VIEW_COLUMNS,
        from: sql`from orders where ${where}`,
        orderBy: sql`created_at desc, id desc`,
        page,
        pageSize,
      });
    },
};

export const searchOrdersParams = z.object({
  query: textInput(200),
  status: orderStatus.nullish(),
  sortBy: z.enum(['CREATED_AT', 'TOTAL_AMOUNT']).default('CREATED_AT'),
  sortOrder: z.enum(['ASC', 'DESC']).default('DESC'),
  ...paging,
});
export type SearchOrdersParams = z.input<typeof searchOrdersParams>;

const likePattern = (query: string) => `%${query.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/**
 * searchOrders(query): orders whose id, customer id or a product id contains the query, case
 * insensitive; a customer finds only its own. The trigram index orders_search_trgm_idx serves the match.
 */
export const searchOrdersQuery: QueryDefinition<SearchOrdersParams, Page<OrderView>> = {
  projections: [ORDERS_PROJECTION],
  create: ({ db }) =>
    async function searchOrders(params, { caller }) {
      const { query, status, sortBy, sortOrder, page, pageSize } = parseWith(searchOrdersParams, params);
      const conditions = [];
      const q = query.trim();
      if (q) conditions.push(sql`search_text like ${likePattern(q)}`);
      if (status) conditions.push(sql`status = ${status}`);
      // A customer searches only its own orders; only an admin searches everyone's.
      if (!isAdmin(caller)) conditions.push(sql`customer_id = ${caller.userId ?? ''}`);
      const where = conditions.length > 0 ? sql`where ${sql.join(conditions, sql` and `)}` : sql``;
      const column = sql.raw(sortBy === 'TOTAL_AMOUNT' ? 'total_amount' : 'created_at');
      const direction = sql.raw(sortOrder === 'ASC' ? 'asc' : 'desc');
      return readPage<OrderView>(db, {
        columns: ORDER_VIEW_COLUMNS,
        from: sql`from orders ${where}`,
        orderBy: sql`${column} ${direction}, id ${direction}`,
        page,
        pageSize,
      });
    },
};

export const orderIdsParams = z.object({ ids: z.array(id).max(1000) });
export type OrderIdsParams = z.input<typeof orderIdsParams>;

/**
 * The customers of the given orders, as far as `orders` has them (live queries ask after each advance,
 * to find which customers' order lists it touched). The service's own question: admins only.
 */
export const orderCustomersQuery: QueryDefinition<OrderIdsParams, { id: string; customerId: string }[]> = {
  projections: [ORDERS_PROJECTION],
  create: ({ db }) =>
    async function orderCustomers(params, { caller }) {
      const { ids } = parseWith(orderIdsParams, params);
      assertAdmin(caller, 'list the customers of orders');
      return db.query<{ id: string; customerId: string }>(
        'select id, customer_id as "customerId" from orders where id = any(array(select jsonb_array_elements_text($1::jsonb)))',
        [JSON.stringify(ids)],
      );
    },
};

// The `customer_summaries` read model: per customer, orders placed, cancelled, spent (cancelled orders
// left out) and the last order's time; the projection that keeps it, and the customerSummary query.
// Later events carry only the order id, so the projection keeps a small table of its own
// (customer_summary_orders) to know each order's customer and total.
import { sql } from 'drizzle-orm';
import { integer, numeric, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { z } from 'zod';
import { assertAdmin, assertCustomerAccess } from '../../core/caller.ts';
import { orderIdsParams, type OrderIdsParams } from './orders.ts';
import { id } from '../../core/input-fields.ts';
import { assertNever } from '../../core/messages.ts';
import type { QueryDefinition } from '../../core/module.ts';
import { centsOf, formatMoney, lineTotal } from '../../core/money.ts';
import { defineSqlProjection, lookup } from '../../core/sql-projection.ts';
import { type RowOf, selectList } from '../../core/tables.ts';
import { parseWith } from '../../core/validation.ts';
import { LATER_ORDER_EVENT_TYPES, ORDER_EVENT_TYPES, type OrderEvent } from '../events.ts';
import { ORDER_STATUSES } from '../order.ts';

export const CUSTOMER_SUMMARIES_PROJECTION = 'customer_summaries';

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
  status: text('status', { enum: ORDER_STATUSES }).notNull(),
  totalAmount: numeric('total_amount', { precision: 20, scale: 2 }).notNull(),
});

export type CustomerSummaryView = RowOf<typeof customerSummaries>;
type OrderFacts = RowOf<typeof customerSummaryOrders>;

const newSummary = (customerId: string): CustomerSummaryView => ({
  customerId,
  orderCount: 0,
  cancelledCount: 0,
  totalSpent: '0.00',
  lastOrderAt: null,
});

export const customerSummariesProjection = defineSqlProjection<OrderEvent>()({
  name: CUSTOMER_SUMMARIES_PROJECTION,
  handles: ORDER_EVENT_TYPES,
  tables: [customerSummaries, customerSummaryOrders],
  lookups: {
    orders: lookup(customerSummaryOrders, {
      key: customerSummaryOrders.orderId,
      keys: [{ streamId: true, types: LATER_ORDER_EVENT_TYPES }],
    }),
    summaries: lookup(customerSummaries, {
      key: customerSummaries.customerId,
      keys: [
        { dataField: 'customerId', types: ['OrderCreated'] },
        { lookup: 'orders', column: customerSummaryOrders.customerId },
      ],
    }),
  },
  apply(events, { found, upsert }) {
    const orders = new Map<string, OrderFacts>();
    const summaries = new Map<string, CustomerSummaryView>();
    const orderOf = (id: string) => orders.get(id) ?? found.orders.get(id);
    const summaryOf = (customerId: string) => summaries.get(customerId) ?? found.summaries.get(customerId);

    for (const event of events) {
      const orderId = event.streamId;
      if (event.type === 'OrderCreated') {
        const { customerId, items, createdAt } = event.data;
        const total = items.reduce((sum, i) => sum + centsOf(lineTotal(i.quantity, i.unitPrice)), 0n);
        orders.set(orderId, { orderId, customerId, status: 'PLACED', totalAmount: formatMoney(total) });
        const s = summaryOf(customerId) ?? newSummary(customerId);
        summaries.set(customerId, {
          ...s,
          orderCount: s.orderCount + 1,
          totalSpent: formatMoney(centsOf(s.totalSpent) + total),
          lastOrderAt: s.lastOrderAt === null || createdAt > s.lastOrderAt ? createdAt : s.lastOrderAt,
        });
        continue;
      }
      const order = orderOf(orderId);
      if (!order) throw new Error(`${event.type} for order ${orderId}, which customer_summaries does not know`);
      const summary = summaryOf(order.customerId);
      if (!summary) throw new Error(`no summary for customer ${order.customerId} of order ${orderId}`);
      let { status, totalAmount } = order;
      let { cancelledCount, totalSpent } = summary;
      switch (event.type) {
        case 'OrderItemAdded': {
          const amount = centsOf(lineTotal(event.data.quantity, event.data.unitPrice));
          totalAmount = formatMoney(centsOf(totalAmount) + amount);
          if (status !== 'CANCELLED') totalSpent = formatMoney(centsOf(totalSpent) + amount);
          break;
        }
        case 'OrderCancelled':
          if (status !== 'CANCELLED') {
            cancelledCount += 1;
            totalSpent = formatMoney(centsOf(totalSpent) - centsOf(totalAmount));
          }
          status = 'CANCELLED';
          break;
        case 'OrderShipped':
          status = 'SHIPPED';
          break;
        default:
          assertNever(event, 'order event');
      }
      orders.set(orderId, { ...order, status, totalAmount });
      summaries.set(order.customerId, { ...summary, cancelledCount, totalSpent });
    }

    upsert(customerSummaryOrders, [...orders.values()]);
    upsert(customerSummaries, [...summaries.values()]);
  },
});

export const customerSummaryParams = z.object({ customerId: id });
export type CustomerSummaryParams = z.input<typeof customerSummaryParams>;

const VIEW = sql.raw(selectList(customerSummaries));

/** customerSummary(customerId): the customer's totals, or null before its first order. */
export const customerSummaryQuery: QueryDefinition<CustomerSummaryParams, CustomerSummaryView | null> = {
  projections: [CUSTOMER_SUMMARIES_PROJECTION],
  create: ({ db }) =>
    async function customerSummary(params, { caller }) {
      const { customerId } = parseWith(customerSummaryParams, params);
      assertCustomerAccess(caller, customerId, `the summary of customer ${customerId}`);
      const [row] = await db.rows<CustomerSummaryView>(sql`select ${VIEW} from customer_summaries where customer_id = ${customerId}`);
      return row ?? null;
    },
};

/**
 * The customers of the given orders, as far as `customer_summaries` has them (live queries ask after
 * each of its advances, to find whose summaries it touched). The service's own question: admins only.
 */
export const summaryCustomersQuery: QueryDefinition<OrderIdsParams, { id: string; customerId: string }[]> = {
  projections: [CUSTOMER_SUMMARIES_PROJECTION],
  create: ({ db }) =>
    async function summaryCustomers(params, { caller }) {
      const { ids } = parseWith(orderIdsParams, params);
      assertAdmin(caller, 'list the customers of orders');
      return db.query<{ id: string; customerId: string }>(
        'select order_id as id, customer_id as "customerId" from customer_summary_orders where order_id = any(array(select jsonb_array_elements_text($1::jsonb)))',
        [JSON.stringify(ids)],
      );
    },
};

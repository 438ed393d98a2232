// The `customer_summaries` projection: per customer, orders placed, cancelled, spent (cancelled orders
// left out) and the last order's time. Later events carry only the order id, so the projection keeps
// its own small order table (customer_summary_orders) to know each order's customer and total.
import { sql } from 'drizzle-orm';
import type { StoredEvent } from '../../core/messages.ts';
import { assertNever } from '../../core/messages.ts';
import type { SqlProjection } from '../../infra/db/executor.ts';
import { ORDER_EVENT_TYPES, type OrderEvent } from '../events.ts';
import { centsOf, formatMoney, lineTotal } from '../money.ts';
import { isoTime, LATER_EVENT_TYPES_SQL, ordersBefore, type CustomerSummaryView } from '../read-model.ts';

export const CUSTOMER_SUMMARIES_PROJECTION = 'customer_summaries';

type OrderFacts = { orderId: string; customerId: string; status: string; totalAmount: string };

type FactRow = { kind: 'order'; fact: OrderFacts } | { kind: 'summary'; fact: CustomerSummaryView } | { kind: 'customer'; fact: string };

/** Whether `rows` hold every known order's facts and were looked up for every new order's customer. */
function covers(rows: readonly FactRow[], known: readonly string[], newCustomers: readonly string[]): boolean {
  const orders = new Set(rows.flatMap((r) => (r.kind === 'order' ? [r.fact.orderId] : [])));
  const customers = new Set(rows.flatMap((r) => (r.kind === 'customer' ? [r.fact] : [])));
  return known.every((id) => orders.has(id)) && newCustomers.every((id) => customers.has(id));
}

/**
 * What a batch needs, in one statement: the known orders it touches (`known`, a SELECT of order ids),
 * and the summaries of every customer involved: the new orders' (`newCustomers`, a SELECT of customer
 * ids, also returned as they were looked up) and the known orders' customers.
 */
const factsQuery = (known: string, newCustomers: string) => `
  with known as (
    select order_id, customer_id, status, total_amount from customer_summary_orders where order_id = any(array(${known}))
  ), new_customers as (${newCustomers})
  select 'order' as kind, json_build_object('orderId', order_id, 'customerId', customer_id, 'status', status,
    'totalAmount', total_amount::text) as fact from known
  union all
  select 'summary', json_build_object('customerId', customer_id, 'orderCount', order_count,
    'cancelledCount', cancelled_count, 'totalSpent', total_spent::text, 'lastOrderAt', ${isoTime('last_order_at')})
  from customer_summaries
  where customer_id = any(array(select * from new_customers union select customer_id from known))
  union all
  select 'customer', to_json(n.id) from new_customers n(id)`;

/** The same, for the ids given as two JSON arrays ($1 known orders, $2 new orders' customers). */
const FACTS_TEXT = factsQuery('select jsonb_array_elements_text($1::jsonb)', 'select jsonb_array_elements_text($2::jsonb)');

export function createCustomerSummariesProjection(): SqlProjection {
  return {
    name: CUSTOMER_SUMMARIES_PROJECTION,
    handles: new Set(ORDER_EVENT_TYPES),
    tables: ['customer_summaries', 'customer_summary_orders'],
    prefetch: factsQuery(
      `select stream_id from batch where type in (${LATER_EVENT_TYPES_SQL})`,
      `select data->>'customerId' from batch where type = 'OrderCreated'`,
    ),
    async apply(events, tx) {
      const orderEvents = events as StoredEvent<OrderEvent>[];
      const known = ordersBefore(orderEvents);
      const newCustomers = [...new Set(orderEvents.flatMap((e) => (e.type === 'OrderCreated' ? [e.data.customerId] : [])))];
      // Read with the batch, unless that missed something (its event data is not upcast); else now.
      let rows = tx.prefetched as FactRow[] | undefined;
      if (!rows || !covers(rows, known, newCustomers)) {
        rows = await tx.query<FactRow>(FACTS_TEXT, [JSON.stringify(known), JSON.stringify(newCustomers)]);
      }
      const orders = new Map<string, OrderFacts>();
      const summaries = new Map<string, CustomerSummaryView>();
      for (const row of rows) {
        if (row.kind === 'order') orders.set(row.fact.orderId, row.fact);
        else if (row.kind === 'summary') summaries.set(row.fact.customerId, row.fact);
      }
      const touchedOrders = new Set<string>();
      const touchedCustomers = new Set<string>();

      for (const event of orderEvents) {
        const orderId = event.streamId;
        if (event.type === 'OrderCreated') {
          const { customerId, items, createdAt } = event.data;
          const total = items.reduce((sum, i) => sum + centsOf(lineTotal(i.quantity, i.unitPrice)), 0n);
          orders.set(orderId, { orderId, customerId, status: 'PLACED', totalAmount: formatMoney(total) });
          const s = summaries.get(customerId) ?? { customerId, orderCount: 0, cancelledCount: 0, totalSpent: '0.00', lastOrderAt: null };
          summaries.set(customerId, {
            ...s,
            orderCount: s.orderCount + 1,
            totalSpent: formatMoney(centsOf(s.totalSpent) + total),
            lastOrderAt: s.lastOrderAt === null || createdAt > s.lastOrderAt ? createdAt : s.lastOrderAt,
          });
          touchedOrders.add(orderId);
          touchedCustomers.add(customerId);
          continue;
        }
        const order = orders.get(orderId);
        if (!order) throw new Error(`${event.type} for order ${orderId}, which customer_summaries does not know`);
        const summary = summaries.get(order.customerId);
        if (!summary) throw new Error(`no summary for customer ${order.customerId} of order ${orderId}`);
        switch (event.type) {
          case 'OrderItemAdded': {
            const amount = centsOf(lineTotal(event.data.quantity, event.data.unitPrice));
            order.totalAmount = formatMoney(centsOf(order.totalAmount) + amount);
            if (order.status !== 'CANCELLED') summary.totalSpent = formatMoney(centsOf(summary.totalSpent) + amount);
            break;
          }
          case 'OrderCancelled':
            if (order.status !== 'CANCELLED') {
              summary.cancelledCount += 1;
              summary.totalSpent = formatMoney(centsOf(summary.totalSpent) - centsOf(order.totalAmount));
            }
            order.status = 'CANCELLED';
            break;
          case 'OrderShipped':
            order.status = 'SHIPPED';
            break;
          default:
            assertNever(event, 'order event');
        }
        touchedOrders.add(orderId);
        touchedCustomers.add(order.customerId);
      }

      if (touchedOrders.size === 0) return;
      const orderRows = [...touchedOrders].map((id) => {
        const o = orders.get(id)!;
        return { order_id: o.orderId, customer_id: o.customerId, status: o.status, total_amount: o.totalAmount };
      });
      const summaryRows = [...touchedCustomers].map((id) => {
        const s = summaries.get(id)!;
        return {
          customer_id: s.customerId,
          order_count: s.orderCount,
          cancelled_count: s.cancelledCount,
          total_spent: s.totalSpent,
          last_order_at: s.lastOrderAt,
        };
      });
      // Both tables, sent together with the step's checkpoint.
      tx.write(sql`
        insert into customer_summary_orders
        select * from jsonb_populate_recordset(null::customer_summary_orders, ${JSON.stringify(orderRows)}::jsonb)
        on conflict (order_id) do update set customer_id = excluded.customer_id, status = excluded.status,
          total_amount = excluded.total_amount`);
      tx.write(sql`
        insert into customer_summaries
        select * from jsonb_populate_recordset(null::customer_summaries, ${JSON.stringify(summaryRows)}::jsonb)
        on conflict (customer_id) do update set order_count = excluded.order_count,
          cancelled_count = excluded.cancelled_count, total_spent = excluded.total_spent,
          last_order_at = excluded.last_order_at`);
    },
  };
}

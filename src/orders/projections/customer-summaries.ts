// The `customer_summaries` projection: per customer, orders placed, cancelled, spent (cancelled orders
// left out) and the last order's time. Later events carry only the order id, so it keeps a small table of
// its own (customer_summary_orders) to know each order's customer and total.
import { assertNever, type StoredEvent } from '../../core/messages.ts';
import { centsOf, formatMoney, lineTotal } from '../../core/money.ts';
import { defineSqlProjection, lookup } from '../../core/sql-projection.ts';
import { LATER_ORDER_EVENT_TYPES, ORDER_EVENT_TYPES, type OrderEvent } from '../events.ts';
import { CUSTOMER_SUMMARY_VIEW_COLUMN_LIST, type CustomerSummaryView } from '../read-model.ts';

export const CUSTOMER_SUMMARIES_PROJECTION = 'customer_summaries';

type OrderFacts = { orderId: string; customerId: string; status: string; totalAmount: string };

const newSummary = (customerId: string): CustomerSummaryView => ({
  customerId,
  orderCount: 0,
  cancelledCount: 0,
  totalSpent: '0.00',
  lastOrderAt: null,
});

export const customerSummariesProjection = defineSqlProjection({
  name: CUSTOMER_SUMMARIES_PROJECTION,
  handles: new Set(ORDER_EVENT_TYPES),
  tables: ['customer_summaries', 'customer_summary_orders'],
  lookups: {
    orders: lookup<OrderFacts>({
      table: 'customer_summary_orders',
      key: 'order_id',
      columns: 'order_id as "orderId", customer_id as "customerId", status, total_amount::text as "totalAmount"',
      keys: [{ streamId: true, types: LATER_ORDER_EVENT_TYPES }],
    }),
    summaries: lookup<CustomerSummaryView>({
      table: 'customer_summaries',
      key: 'customer_id',
      columns: CUSTOMER_SUMMARY_VIEW_COLUMN_LIST,
      keys: [
        { dataField: 'customerId', types: ['OrderCreated'] },
        { lookup: 'orders', column: 'customer_id' },
      ],
    }),
  },
  apply(events, { found, upsert }) {
    const orders = new Map<string, OrderFacts>();
    const summaries = new Map<string, CustomerSummaryView>();
    const orderOf = (id: string) => orders.get(id) ?? found.orders.get(id);
    const summaryOf = (customerId: string) => summaries.get(customerId) ?? found.summaries.get(customerId);

    for (const event of events as StoredEvent<OrderEvent>[]) {
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

    upsert(
      'customer_summary_orders',
      'order_id',
      [...orders.values()].map((o) => ({ order_id: o.orderId, customer_id: o.customerId, status: o.status, total_amount: o.totalAmount })),
    );
    upsert(
      'customer_summaries',
      'customer_id',
      [...summaries.values()].map((s) => ({
        customer_id: s.customerId,
        order_count: s.orderCount,
        cancelled_count: s.cancelledCount,
        total_spent: s.totalSpent,
        last_order_at: s.lastOrderAt,
      })),
    );
  },
});

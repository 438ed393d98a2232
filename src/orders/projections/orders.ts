// The `orders` projection: one row per order with everything the Order type shows. A batch is folded in
// memory per order, starting from the rows of the orders it changes, and written with one upsert.
import { assertNever, type StoredEvent } from '../../core/messages.ts';
import { centsOf, formatMoney, lineTotal } from '../../core/money.ts';
import { defineSqlProjection, lookup } from '../../core/sql-projection.ts';
import { LATER_ORDER_EVENT_TYPES, ORDER_EVENT_TYPES, type OrderEvent } from '../events.ts';
import { ORDER_VIEW_COLUMN_LIST, type OrderItemRow, type OrderView } from '../read-model.ts';

export const ORDERS_PROJECTION = 'orders';

/** What searchOrders matches: the order id, customer id, product ids and city, lower-cased. */
export function searchText(order: Pick<OrderView, 'id' | 'customerId' | 'items' | 'shippingAddress'>): string {
  // U+001F (unit separator) keeps a query from matching across two fields.
  return [order.id, order.customerId, ...order.items.map((i) => i.productId), order.shippingAddress.city].join('\u001f').toLowerCase();
}

export function evolveOrderView(order: OrderView | undefined, event: StoredEvent<OrderEvent>): OrderView {
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
    default:
      return assertNever(event, 'order event');
  }
}

const toRow = (o: OrderView) => ({
  id: o.id,
  customer_id: o.customerId,
  status: o.status,
  items: o.items,
  item_count: o.itemCount,
  total_amount: o.totalAmount,
  shipping_address: o.shippingAddress,
  version: o.version,
  created_at: o.createdAt,
  updated_at: o.updatedAt,
  shipped_at: o.shippedAt,
  cancelled_at: o.cancelledAt,
  cancel_reason: o.cancelReason,
  cancelled_by: o.cancelledBy,
  search_text: searchText(o),
});

export const ordersProjection = defineSqlProjection({
  name: ORDERS_PROJECTION,
  handles: new Set(ORDER_EVENT_TYPES),
  tables: ['orders'],
  lookups: {
    orders: lookup<OrderView>({
      table: 'orders',
      key: 'id',
      columns: ORDER_VIEW_COLUMN_LIST,
      keys: [{ streamId: true, types: LATER_ORDER_EVENT_TYPES }],
    }),
  },
  apply(events, { found, upsert }) {
    const changed = new Map<string, OrderView>();
    for (const event of events as StoredEvent<OrderEvent>[]) {
      const next = evolveOrderView(changed.get(event.streamId) ?? found.orders.get(event.streamId), event);
      changed.set(next.id, next);
    }
    upsert('orders', 'id', [...changed.values()].map(toRow));
  },
});

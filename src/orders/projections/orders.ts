// The `orders` projection: one row per order with everything the Order type shows. A batch is folded in
// memory per order and written with one upsert, so catch-up costs a few statements per batch.
import { sql } from 'drizzle-orm';
import type { StoredEvent } from '../../core/messages.ts';
import { assertNever } from '../../core/messages.ts';
import { textArray, type SqlProjection, type StepExecutor } from '../../infra/db/executor.ts';
import { ORDER_EVENT_TYPES, type OrderEvent } from '../events.ts';
import { centsOf, formatMoney, lineTotal } from '../money.ts';
import { LATER_EVENT_TYPES_SQL, ordersBefore, ORDER_VIEW_COLUMN_LIST, ORDER_VIEW_COLUMNS, type OrderItemRow, type OrderView } from '../read-model.ts';

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
  search_text: searchText(o),
});

/** Changed orders, upserted in one statement (sent with the step's checkpoint). */
export function upsertOrders(tx: StepExecutor, changed: OrderView[]): void {
  if (changed.length === 0) return;
  tx.write(sql`
    insert into orders
    select * from jsonb_populate_recordset(null::orders, ${JSON.stringify(changed.map(toRow))}::jsonb)
    on conflict (id) do update set
      customer_id = excluded.customer_id, status = excluded.status, items = excluded.items,
      item_count = excluded.item_count, total_amount = excluded.total_amount,
      shipping_address = excluded.shipping_address, version = excluded.version,
      created_at = excluded.created_at, updated_at = excluded.updated_at, shipped_at = excluded.shipped_at,
      cancelled_at = excluded.cancelled_at, cancel_reason = excluded.cancel_reason, search_text = excluded.search_text`);
}

export function createOrdersProjection(): SqlProjection {
  return {
    name: ORDERS_PROJECTION,
    handles: new Set(ORDER_EVENT_TYPES),
    tables: ['orders'],
    // The rows of the orders the batch changes, read with the batch.
    prefetch: `select ${ORDER_VIEW_COLUMN_LIST} from orders
      where id = any(array(select stream_id from batch where type in (${LATER_EVENT_TYPES_SQL})))`,
    async apply(events, tx) {
      const orderEvents = events as StoredEvent<OrderEvent>[];
      const ids = ordersBefore(orderEvents);
      const current = new Map<string, OrderView>();
      for (const row of (tx.prefetched ?? []) as OrderView[]) current.set(row.id, row);
      // What the prefetch did not bring (or all of it, when there was none).
      const missing = ids.filter((id) => !current.has(id));
      if (missing.length > 0) {
        const rows = await tx.rows<OrderView>(sql`select ${ORDER_VIEW_COLUMNS} from orders where id = any(${textArray(missing)})`);
        for (const row of rows) current.set(row.id, row);
      }
      const changed = new Map<string, OrderView>();
      for (const event of orderEvents) {
        const next = evolveOrderView(changed.get(event.streamId) ?? current.get(event.streamId), event);
        changed.set(next.id, next);
      }
      upsertOrders(tx, [...changed.values()]);
    },
  };
}

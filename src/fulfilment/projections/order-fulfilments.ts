// The `order_fulfilments` projection: each order's fulfilment status, from the outcome events.
import type { StoredEvent } from '../../core/messages.ts';
import { defineSqlProjection } from '../../core/sql-projection.ts';
import { FULFILMENT_EVENT_TYPES, statusOf, type FulfilmentEvent } from '../events.ts';

export const ORDER_FULFILMENTS_PROJECTION = 'order_fulfilments';

export const orderFulfilmentsProjection = defineSqlProjection({
  name: ORDER_FULFILMENTS_PROJECTION,
  handles: new Set(FULFILMENT_EVENT_TYPES),
  tables: ['order_fulfilments'],
  apply(events, { upsert }) {
    const latest = new Map<string, { order_id: string; status: string; updated_at: string }>();
    for (const event of events as StoredEvent<FulfilmentEvent>[]) {
      latest.set(event.data.orderId, { order_id: event.data.orderId, status: statusOf[event.type], updated_at: event.data.at });
    }
    upsert('order_fulfilments', 'order_id', [...latest.values()]);
  },
});

// The Fulfilment domain's GraphQL face: Order.fulfilment. It reads as fresh as the order it is a field
// of, following the fulfilment process (causal read-your-writes), and orderChanged emits an order again
// when its fulfilment changes: on the outcome events' projection, and on the process's own advances (an
// order with nothing stock-controlled is RESERVED in its state alone).
import type { Builder } from '../graphql/builder.ts';
import { readAfter, readAt } from '../graphql/consistency.ts';
import { queriesOf } from '../graphql/context.ts';
import { SYSTEM_CALLER } from '../core/caller.ts';
import type { Position } from '../core/position.ts';
import type { GraphQLServices } from '../graphql/context.ts';
import { FULFILMENT_STATUSES, fulfilmentStreamId } from '../orders/fulfilment/events.ts';
import { orderChangeSources, orderKey, orderTypes } from '../orders/graphql/index.ts';
import { liveSources, watchLive } from '../graphql/live-sources.ts';
import type { FulfilmentQueries } from './module.ts';
import { FULFILMENT_PROCESS, ORDER_FULFILMENTS_PROJECTION } from './read-models/order-fulfilments.ts';

/** An order's fulfilment at least as fresh as `at` (causally: the process and what it appended). */
const fulfilmentAt = (services: GraphQLServices, orderId: string, at: Position) =>
  queriesOf<FulfilmentQueries>({ services }).execute('orderFulfilment', { orderId }, { caller: SYSTEM_CALLER, consistency: { after: at } });

const FULFILMENT_PREFIX = fulfilmentStreamId('');

export function fulfilmentGraphQL(builder: Builder): void {
  const FulfilmentEnum = builder.enumType('Fulfilment', {
    description:
      'PENDING: not handled yet; RESERVED: every stock-controlled line is reserved (or none is stock-controlled); BACKORDERED: a line could not be reserved, and nothing of the order stays reserved; RELEASED: cancelled, its reservations returned; SHIPPED: shipped, its reserved stock left.',
    values: FULFILMENT_STATUSES,
  });
  orderChangeSources(builder).push(
    {
      field: 'fulfilment',
      projection: ORDER_FULFILMENTS_PROJECTION,
      streamOf: fulfilmentStreamId,
      read: (services, streamId, at) => fulfilmentAt(services, streamId.slice(FULFILMENT_PREFIX.length), at),
    },
    { field: 'fulfilment', projection: FULFILMENT_PROCESS, streamOf: (orderId) => orderId, read: fulfilmentAt },
  );
  // Live queries: an order's fulfilment changes with its outcome events (on its fulfilment stream) and with
  // the process's own state (on the order's stream).
  liveSources(builder).push(
    {
      projection: ORDER_FULFILMENTS_PROJECTION,
      keys: async (_s, ids) =>
        ids.filter((id) => id.startsWith(FULFILMENT_PREFIX)).map((id) => orderKey(id.slice(FULFILMENT_PREFIX.length))),
    },
    { projection: FULFILMENT_PROCESS, keys: async (_s, ids) => ids.map(orderKey) },
  );
  builder.objectField(orderTypes(builder).OrderRef, 'fulfilment', (t) =>
    t.field({
      type: FulfilmentEnum,
      resolve: (order, _args, ctx) => {
        watchLive(ctx, ORDER_FULFILMENTS_PROJECTION, orderKey(order.id));
        watchLive(ctx, FULFILMENT_PROCESS, orderKey(order.id));
        return readAfter(ctx, readAt(ctx, order), (q) =>
          queriesOf<FulfilmentQueries>(ctx).execute('orderFulfilment', { orderId: order.id }, q),
        );
      },
    }),
  );
}

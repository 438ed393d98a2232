// The Fulfilment domain's GraphQL face: Order.fulfilment. It reads as fresh as the order it is a field
// of, following the fulfilment process (causal read-your-writes).
import type { Builder } from '../graphql/builder.ts';
import { readAfter, readAt } from '../graphql/consistency.ts';
import { queriesOf } from '../graphql/context.ts';
import { orderTypes } from '../orders/graphql/index.ts';
import { FULFILMENT_STATUSES } from './events.ts';
import type { FulfilmentQueries } from './module.ts';

export function fulfilmentGraphQL(builder: Builder): void {
  const FulfilmentEnum = builder.enumType('Fulfilment', {
    description:
      'PENDING: not handled yet; RESERVED: every stock-controlled line is reserved (or none is stock-controlled); BACKORDERED: a line could not be reserved, and nothing of the order stays reserved; RELEASED: cancelled, its reservations returned; SHIPPED: shipped, its reserved stock left.',
    values: FULFILMENT_STATUSES,
  });
  builder.objectField(orderTypes(builder).OrderRef, 'fulfilment', (t) =>
    t.field({
      type: FulfilmentEnum,
      resolve: (order, _args, ctx) =>
        readAfter(ctx, readAt(ctx, order), (q) => queriesOf<FulfilmentQueries>(ctx).execute('orderFulfilment', { orderId: order.id }, q)),
    }),
  );
}

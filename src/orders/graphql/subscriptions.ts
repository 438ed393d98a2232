// orderChanged(id): the order's read model after every projected change of it, through the watchers of
// the `orders` projection (one read per change, whoever watches).
import { Repeater } from 'graphql-yoga';
import { SYSTEM_CALLER } from '../../core/caller.ts';
import type { Builder } from '../../graphql/builder.ts';
import { type GraphQLContext, queriesOf } from '../../graphql/context.ts';
import { superviseSubscription } from '../../graphql/subscription.ts';
import { type WatchDefinition, watchersOf } from '../../graphql/watchers.ts';
import type { OrderQueries } from '../module.ts';
import { ORDERS_PROJECTION, type OrderView } from '../read-models/orders.ts';
import { orderTypes, queries } from './types.ts';

/**
 * Access was checked when each watch began (an order's customer never changes): the system reads it, at
 * least as new as the advance.
 */
const orderRows: WatchDefinition<OrderView> = {
  projection: ORDERS_PROJECTION,
  read: (services, id, at) =>
    queriesOf<OrderQueries>({ services }).execute('order', { id }, { caller: SYSTEM_CALLER, consistency: { after: at } }),
};

export function orderSubscriptionFields(builder: Builder): void {
  const { OrderRef } = orderTypes(builder);
  builder.subscriptionFields((t) => ({
    orderChanged: t.field({
      type: OrderRef,
      description: "Emits the order's read model after every projected change of it.",
      args: { id: t.arg.id({ required: true }) },
      subscribe: (_root, { id }, ctx) => orderChanges(ctx, id),
      resolve: (order) => order,
    }),
  }));
}

function orderChanges(ctx: GraphQLContext, id: string): AsyncIterable<OrderView> {
  return new Repeater<OrderView>(async (push, stop) => {
    // NOT_FOUND or FORBIDDEN before anything streams (asks the event store: the read model may lag).
    await queries(ctx).execute('orderAccess', { id }, { caller: ctx.caller });
    superviseSubscription(ctx, 'orderChanged', stop);
    let emitted = 0;
    const offer = (order: OrderView | null, emit: boolean) => {
      if (!order || order.version <= emitted) return;
      emitted = order.version;
      if (emit) push(order).catch(() => {});
    };
    const remove = watchersOf(ctx.services, orderRows).add(id, { next: (order) => offer(order, true), fail: (error) => stop(error) });
    // Where the order is now: changes after this are emitted, and one that raced the watch is not lost.
    offer(await queries(ctx).execute('order', { id }, { caller: ctx.caller }), false);
    await stop;
    remove();
  });
}

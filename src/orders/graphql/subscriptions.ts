// orderChanged(id): the order's read model after every projected change of it, through the watchers of
// the `orders` projection (one read per change, whoever watches), and again when a field another face
// adds to Order changes without the order's own row (Order.fulfilment: see orderChangeSources).
import { Repeater } from 'graphql-yoga';
import { SYSTEM_CALLER } from '../../core/caller.ts';
import { isDeepStrictEqual } from 'node:util';
import type { Position } from '../../core/position.ts';
import { DEFAULT_TENANT, inTenant } from '../../core/tenancy.ts';
import { type Builder, perBuilder } from '../../graphql/builder.ts';
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

/**
 * What another face's field of Order shows (`field`), read from the projection whose advances may change
 * it, at the stream of that projection that belongs to the order: orderChanged emits the order again when
 * it differs from what the subscriber saw last.
 */
export type OrderChangeSource = WatchDefinition<unknown> & { field: string; streamOf(orderId: string): string };

/** The change sources of the faces that add fields to Order (filled as the faces are built). */
export const orderChangeSources = perBuilder((): OrderChangeSource[] => []);

export function orderSubscriptionFields(builder: Builder): void {
  const { OrderRef } = orderTypes(builder);
  const sources = orderChangeSources(builder);
  builder.subscriptionFields((t) => ({
    orderChanged: t.field({
      type: OrderRef,
      description: "Emits the order's read model after every projected change of it.",
      args: { id: t.arg.id({ required: true }) },
      subscribe: (_root, { id }, ctx) => orderChanges(ctx, id, sources),
      resolve: (order) => order,
    }),
  }));
}

function orderChanges(ctx: GraphQLContext, id: string, sources: readonly OrderChangeSource[]): AsyncIterable<OrderView> {
  return new Repeater<OrderView>(async (push, stop) => {
    // NOT_FOUND or FORBIDDEN before anything streams (asks the event store: the read model may lag).
    await queries(ctx).execute('orderAccess', { id }, { caller: ctx.caller });
    let emitted = 0;
    const offer = (order: OrderView | null, emit: boolean) => {
      if (!order || order.version <= emitted) return;
      emitted = order.version;
      if (emit) push(order).catch(() => {});
    };
    const tenant = ctx.caller.tenant ?? DEFAULT_TENANT;
    const removes = [
      watchersOf(ctx.services, orderRows).add(tenant, id, { next: (order) => offer(order, true), fail: (error) => stop(error) }),
    ];
    // Another face's field: emitted when what it shows differs from what was seen last (per field).
    const seen = new Map<string, unknown>();
    // The order is read at least as new as the advance that changed the field (so never older than what
    // caused that change), and counts as emitted: its own change, arriving later, is not sent twice.
    const changed = (field: string, value: unknown, at: Position) => {
      if (seen.has(field) && isDeepStrictEqual(seen.get(field), value)) return;
      seen.set(field, value);
      queries(ctx)
        .execute('order', { id }, { caller: ctx.caller, consistency: { after: at } })
        .then((order) => {
          if (!order) return;
          emitted = Math.max(emitted, order.version);
          push(order).catch(() => {});
        }, stop);
    };
    for (const source of sources) {
      removes.push(
        watchersOf(ctx.services, source).add(tenant, source.streamOf(id), {
          next: (value, at) => changed(source.field, value, at),
          fail: stop,
        }),
      );
    }
    // Where the order is now: changes after this are emitted, and one that raced the watch is not lost.
    offer(await queries(ctx).execute('order', { id }, { caller: ctx.caller }), false);
    for (const source of sources) {
      const at = ctx.services.tracker.position(source.projection);
      if (!seen.has(source.field) && at)
        seen.set(source.field, await inTenant(tenant, () => source.read(ctx.services, source.streamOf(id), at)));
    }
    // Open (and counted so) once every later change will be emitted.
    superviseSubscription(ctx, 'orderChanged', stop);
    await stop;
    for (const remove of removes) remove();
  });
}

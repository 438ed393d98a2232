// orderChanged(id): the order's read model after every projected change of it, through the watchers of
// the `orders` projection (one read per change, whoever watches), and again when a field another face
// adds to Order changes without the order's own row (Order.fulfilment: see orderChangeSources).
import { SYSTEM_CALLER } from '../../core/caller.ts';
import type { Position } from '../../core/position.ts';
import { isDeepStrictEqual } from 'node:util';
import { DEFAULT_TENANT, inTenant } from '../../core/tenancy.ts';
import { type Builder, perBuilder } from '../../graphql/builder.ts';
import { type GraphQLContext, queriesOf } from '../../graphql/context.ts';
import { PushedStream } from '../../graphql/pushed-stream.ts';
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
  const stream = new PushedStream<OrderView>(ctx.signal);
  const fail = (error: unknown) => stream.end(error);
  // Each watch goes when the stream ends, also one added after that (the client left during the access check).
  const removes: (() => void)[] = [];
  let over = false;
  void stream.ended.then(() => {
    over = true;
    for (const remove of removes.splice(0)) remove();
  });
  const watch = <T>(definition: WatchDefinition<T>, streamId: string, next: (value: T, at: Position) => void) => {
    const remove = watchersOf(ctx.services, definition).add(ctx.caller.tenant ?? DEFAULT_TENANT, streamId, { next, fail });
    if (over) remove();
    else removes.push(remove);
  };
  const follow = async () => {
    // NOT_FOUND or FORBIDDEN before anything streams (asks the event store: the read model may lag).
    await queries(ctx).execute('orderAccess', { id }, { caller: ctx.caller });
    // The subscription starts where its first reads find the order: what the watches bring before those
    // is held (an order row newer than the first read goes out then) or dropped (a field's value, which the
    // first read of that field covers). A late advance from before the subscription is then no change.
    let emitted: number | undefined;
    let early: OrderView | undefined;
    const offer = (order: OrderView | null) => {
      if (!order) return;
      if (emitted === undefined) {
        if (!early || order.version > early.version) early = order;
      } else if (order.version > emitted) {
        emitted = order.version;
        stream.push(order);
      }
    };
    watch(orderRows, id, offer);
    // Another face's field: emitted when what it shows differs from what was seen last (per field).
    const seen = new Map<string, unknown>();
    let started = false;
    const changed = (field: string, value: unknown, at: Position) => {
      if (!started || (seen.has(field) && isDeepStrictEqual(seen.get(field), value))) return;
      seen.set(field, value);
      // At least as new as the advance that changed the field: the order event that caused it is in. Its
      // version counts as emitted, so that the order's own change, arriving later, is not sent twice.
      queries(ctx)
        .execute('order', { id }, { caller: ctx.caller, consistency: { after: at } })
        .then((order) => {
          if (!order) return;
          emitted = Math.max(emitted ?? 0, order.version);
          stream.push(order);
        }, fail);
    };
    for (const source of sources) watch(source, source.streamOf(id), (value, at) => changed(source.field, value, at));
    emitted = (await queries(ctx).execute('order', { id }, { caller: ctx.caller }))?.version ?? 0;
    const tenant = ctx.caller.tenant ?? DEFAULT_TENANT;
    for (const source of sources) {
      const at = ctx.services.tracker.position(source.projection);
      if (at) seen.set(source.field, await inTenant(tenant, () => source.read(ctx.services, source.streamOf(id), at)));
    }
    started = true;
    if (early) offer(early);
    superviseSubscription(ctx, 'orderChanged', (error) => stream.end(error), stream.ended);
  };
  follow().catch(fail);
  return stream;
}

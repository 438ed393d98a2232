// The Orders domain's GraphQL face: its types, queries (on the query bus), mutations (on the command bus)
// and the orderChanged subscription. Resolvers only parse, dispatch and shape.
import { Repeater } from 'graphql-yoga';
import { SYSTEM_CALLER } from '../core/caller.ts';
import type { CommandResult } from '../core/command-handler.ts';
import type { Position } from '../core/position.ts';
import type { QueryBus } from '../core/query-bus.ts';
import type { QueryContext } from '../core/query-context.ts';
import type { ChangedStreams } from '../core/stream-changes.ts';
import { perBuilder, type Builder } from '../graphql/builder.ts';
import { dispatchCommand, withoutNulls } from '../graphql/commands.ts';
import { readAfter } from '../graphql/consistency.ts';
import { pageType } from '../graphql/page.ts';
import { queriesOf, type GraphQLContext } from '../graphql/context.ts';
import { superviseSubscription } from '../graphql/subscription.ts';
import type { OrderCommand } from './decider.ts';
import type { Address } from './events.ts';
import { orderAggregate } from './order-aggregate.ts';
import { ORDERS_PROJECTION } from './projections/orders.ts';
import type { OrderQueries } from './queries/index.ts';
import { ORDER_STATUSES } from './queries/order-status.ts';
import type { CustomerSummaryView, OrderItemRow, OrderView } from './read-model.ts';

/** The Order type, for other modules' faces that add fields to it. */
export const orderTypes = perBuilder((builder) => ({ OrderRef: builder.objectRef<OrderView>('Order') }));

const queries = (ctx: GraphQLContext) => queriesOf<OrderQueries>(ctx);
const dispatch = (ctx: GraphQLContext, type: OrderCommand['type'], input: object) =>
  dispatchCommand(ctx, orderAggregate.inputs, type, input);

export function ordersGraphQL(builder: Builder): void {
  const { OrderRef } = orderTypes(builder);
  const OrderStatusEnum = builder.enumType('OrderStatus', { values: ORDER_STATUSES });
  const OrderSortField = builder.enumType('OrderSortField', { values: ['CREATED_AT', 'TOTAL_AMOUNT'] as const });
  const SortOrder = builder.enumType('SortOrder', { values: ['ASC', 'DESC'] as const });

  const AddressRef = builder.objectRef<Address>('Address').implement({
    fields: (t) => ({
      line1: t.exposeString('line1'),
      city: t.exposeString('city'),
      postalCode: t.exposeString('postalCode'),
      country: t.exposeString('country', { description: 'ISO 3166-1 alpha-2' }),
    }),
  });

  const OrderItemRef = builder.objectRef<OrderItemRow>('OrderItem').implement({
    fields: (t) => ({
      productId: t.exposeID('productId'),
      quantity: t.exposeInt('quantity'),
      unitPrice: t.field({ type: 'Money', resolve: (i) => i.unitPrice }),
      lineTotal: t.field({ type: 'Money', resolve: (i) => i.lineTotal }),
    }),
  });

  OrderRef.implement({
    fields: (t) => ({
      id: t.exposeID('id'),
      customerId: t.exposeID('customerId'),
      status: t.field({ type: OrderStatusEnum, resolve: (o) => o.status }),
      items: t.field({ type: [OrderItemRef], resolve: (o) => o.items }),
      itemCount: t.exposeInt('itemCount', { description: 'The sum of the quantities' }),
      totalAmount: t.field({ type: 'Money', resolve: (o) => o.totalAmount }),
      shippingAddress: t.field({ type: AddressRef, resolve: (o) => o.shippingAddress }),
      version: t.exposeInt('version'),
      createdAt: t.field({ type: 'DateTime', resolve: (o) => o.createdAt }),
      updatedAt: t.field({ type: 'DateTime', resolve: (o) => o.updatedAt }),
      shippedAt: t.field({ type: 'DateTime', nullable: true, resolve: (o) => o.shippedAt }),
      cancelledAt: t.field({ type: 'DateTime', nullable: true, resolve: (o) => o.cancelledAt }),
      cancelReason: t.exposeString('cancelReason', { nullable: true }),
      cancelledBy: t.exposeID('cancelledBy', { nullable: true, description: 'Who cancelled it (a user id); null for the system.' }),
    }),
  });

  const OrderPageRef = pageType(builder, 'OrderPage', OrderRef);

  const CustomerSummaryRef = builder.objectRef<CustomerSummaryView>('CustomerSummary').implement({
    description: 'orderCount counts every order placed (cancelled ones too); totalSpent leaves cancelled orders out.',
    fields: (t) => ({
      customerId: t.exposeID('customerId'),
      orderCount: t.exposeInt('orderCount'),
      cancelledCount: t.exposeInt('cancelledCount'),
      totalSpent: t.field({ type: 'Money', resolve: (s) => s.totalSpent }),
      lastOrderAt: t.field({ type: 'DateTime', nullable: true, resolve: (s) => s.lastOrderAt }),
    }),
  });

  const OrderPayloadRef = builder.objectRef<CommandResult>('OrderPayload').implement({
    description: 'What every order mutation returns.',
    fields: (t) => ({
      orderId: t.field({ type: 'ID', resolve: (r) => r.streamId }),
      version: t.exposeInt('version', { description: "The order stream's version after the command." }),
      consistencyToken: t.field({
        type: 'ConsistencyToken',
        description: 'Covers the events this command appended; pass it as `after:` to read your write.',
        resolve: (r) => r.consistencyToken,
      }),
      order: t.field({
        type: OrderRef,
        nullable: true,
        description: 'The read model, resolved only when selected, once the `orders` projection has reached consistencyToken.',
        resolve: (r, _args, ctx) => readAfter(ctx, r.position, (q) => queries(ctx).execute('order', { id: r.streamId }, q)),
      }),
    }),
  });

  const AddressInput = builder.inputType('AddressInput', {
    fields: (t) => ({
      line1: t.string({ required: true }),
      city: t.string({ required: true }),
      postalCode: t.string({ required: true }),
      country: t.string({ required: true, description: 'ISO 3166-1 alpha-2' }),
    }),
  });

  const OrderItemInput = builder.inputType('OrderItemInput', {
    fields: (t) => ({
      productId: t.id({ required: true }),
      quantity: t.int({ required: true }),
      unitPrice: t.field({ type: 'Money', required: true }),
    }),
  });

  const CreateOrderInput = builder.inputType('CreateOrderInput', {
    fields: (t) => ({
      commandId: t.id({ description: 'Repeat a command with the same id to get its first result back instead of applying it twice.' }),
      customerId: t.id({ required: true }),
      items: t.field({ type: [OrderItemInput], required: true }),
      shippingAddress: t.field({ type: AddressInput, required: true }),
    }),
  });

  const AddOrderItemInput = builder.inputType('AddOrderItemInput', {
    fields: (t) => ({
      commandId: t.id(),
      orderId: t.id({ required: true }),
      expectedVersion: t.int({ description: 'Fail with CONCURRENCY_CONFLICT unless the order is at this version.' }),
      productId: t.id({ required: true }),
      quantity: t.int({ required: true }),
      unitPrice: t.field({ type: 'Money', required: true }),
    }),
  });

  const CancelOrderInput = builder.inputType('CancelOrderInput', {
    fields: (t) => ({
      commandId: t.id(),
      orderId: t.id({ required: true }),
      expectedVersion: t.int(),
      reason: t.string({ required: true }),
    }),
  });

  const ShipOrderInput = builder.inputType('ShipOrderInput', {
    fields: (t) => ({ commandId: t.id(), orderId: t.id({ required: true }), expectedVersion: t.int() }),
  });

  builder.queryFields((t) => ({
    order: t.field({
      type: OrderRef,
      nullable: true,
      args: { id: t.arg.id({ required: true }), after: t.arg({ type: 'ConsistencyToken' }) },
      resolve: (_root, args, ctx) => readAfter(ctx, args.after, (q) => queries(ctx).execute('order', { id: args.id }, q)),
    }),
    customerOrders: t.field({
      type: OrderPageRef,
      args: {
        customerId: t.arg.id({ required: true }),
        status: t.arg({ type: OrderStatusEnum }),
        page: t.arg.int({ defaultValue: 1 }),
        pageSize: t.arg.int({ defaultValue: 20 }),
        after: t.arg({ type: 'ConsistencyToken' }),
      },
      resolve: (_root, { after, ...args }, ctx) =>
        readAfter(ctx, after, (q) => queries(ctx).execute('customerOrders', withoutNulls(args) as never, q)),
    }),
    searchOrders: t.field({
      type: OrderPageRef,
      args: {
        query: t.arg.string({ required: true }),
        status: t.arg({ type: OrderStatusEnum }),
        sortBy: t.arg({ type: OrderSortField, defaultValue: 'CREATED_AT' }),
        sortOrder: t.arg({ type: SortOrder, defaultValue: 'DESC' }),
        page: t.arg.int({ defaultValue: 1 }),
        pageSize: t.arg.int({ defaultValue: 20 }),
        after: t.arg({ type: 'ConsistencyToken' }),
      },
      resolve: (_root, { after, ...args }, ctx) =>
        readAfter(ctx, after, (q) => queries(ctx).execute('searchOrders', withoutNulls(args) as never, q)),
    }),
    customerSummary: t.field({
      type: CustomerSummaryRef,
      nullable: true,
      args: { customerId: t.arg.id({ required: true }), after: t.arg({ type: 'ConsistencyToken' }) },
      resolve: (_root, args, ctx) =>
        readAfter(ctx, args.after, (q) => queries(ctx).execute('customerSummary', { customerId: args.customerId }, q)),
    }),
  }));

  builder.mutationFields((t) => ({
    createOrder: t.field({
      type: OrderPayloadRef,
      args: { input: t.arg({ type: CreateOrderInput, required: true }) },
      resolve: (_root, { input }, ctx) =>
        dispatch(ctx, 'CreateOrder', {
          ...input,
          items: input.items.map((item) => withoutNulls(item)),
          shippingAddress: withoutNulls(input.shippingAddress),
        }),
    }),
    addOrderItem: t.field({
      type: OrderPayloadRef,
      args: { input: t.arg({ type: AddOrderItemInput, required: true }) },
      resolve: (_root, { input }, ctx) => dispatch(ctx, 'AddOrderItem', input),
    }),
    cancelOrder: t.field({
      type: OrderPayloadRef,
      args: { input: t.arg({ type: CancelOrderInput, required: true }) },
      resolve: (_root, { input }, ctx) => dispatch(ctx, 'CancelOrder', input),
    }),
    shipOrder: t.field({
      type: OrderPayloadRef,
      args: { input: t.arg({ type: ShipOrderInput, required: true }) },
      resolve: (_root, { input }, ctx) => dispatch(ctx, 'ShipOrder', input),
    }),
  }));

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
    const remove = orderWatchers(ctx.services).add(id, { next: (order) => offer(order, true), fail: (error) => stop(error) });
    // Where the order is now: changes after this are emitted, and one that raced the watch is not lost.
    offer(await queries(ctx).execute('order', { id }, { caller: ctx.caller }), false);
    await stop;
    remove();
  });
}

type OrderWatcher = { next(order: OrderView): void; fail(error: unknown): void };

/**
 * The orderChanged subscriptions of this process, by order id. After each advance of the orders
 * projection, each changed order that someone watches is read once (the reads of one advance go out as
 * one batch), and every watcher of it gets that read: the cost follows the changes, not the watchers.
 */
function createOrderWatchers(services: GraphQLContext['services']) {
  const byId = new Map<string, Set<OrderWatcher>>();
  const bus = services.queries as unknown as QueryBus<OrderQueries, QueryContext>;
  let unsubscribe: (() => void) | undefined;
  const onChange = (changed: ChangedStreams, at: Position) => {
    const ids = changed === 'all' ? [...byId.keys()] : [...changed].filter((id) => byId.has(id));
    for (const id of ids) {
      // Access was checked when each watch began; an order's customer never changes. Read at least as new
      // as the advance (a replica must have replayed it, or the change would be missed).
      bus.execute('order', { id }, { caller: SYSTEM_CALLER, consistency: { after: at } }).then(
        (order) => {
          if (order) for (const watcher of byId.get(id) ?? []) watcher.next(order);
        },
        (error: unknown) => {
          for (const watcher of byId.get(id) ?? []) watcher.fail(error);
        },
      );
    }
  };
  return {
    add(id: string, watcher: OrderWatcher): () => void {
      let watchers = byId.get(id);
      if (!watchers) byId.set(id, (watchers = new Set()));
      watchers.add(watcher);
      unsubscribe ??= services.changes.subscribe(ORDERS_PROJECTION, onChange);
      const mine = watchers;
      return () => {
        mine.delete(watcher);
        if (mine.size === 0 && byId.get(id) === mine) byId.delete(id);
        if (byId.size === 0) {
          unsubscribe?.();
          unsubscribe = undefined;
        }
      };
    },
  };
}

const watchersBy = new WeakMap<object, ReturnType<typeof createOrderWatchers>>();

function orderWatchers(services: GraphQLContext['services']) {
  let watchers = watchersBy.get(services);
  if (!watchers) watchersBy.set(services, (watchers = createOrderWatchers(services)));
  return watchers;
}

// The Orders GraphQL queries, on the query bus: order, customerOrders, searchOrders, customerSummary.
import type { Builder } from '../../graphql/builder.ts';
import { withoutNulls } from '../../graphql/commands.ts';
import { isAdmin } from '../../core/caller.ts';
import { readAfter } from '../../graphql/consistency.ts';
import { ANY_ROW, watchLive } from '../../graphql/live-sources.ts';
import { CUSTOMER_SUMMARIES_PROJECTION } from '../read-models/customer-summaries.ts';
import { ORDERS_PROJECTION } from '../read-models/orders.ts';
import { customerKey, orderKey } from './live.ts';
import { orderTypes, queries } from './types.ts';

export function orderQueryFields(builder: Builder): void {
  const { OrderRef, OrderStatusEnum, OrderSortField, SortOrder, OrderPageRef, CustomerSummaryRef } = orderTypes(builder);
  builder.queryFields((t) => ({
    order: t.field({
      type: OrderRef,
      nullable: true,
      args: { id: t.arg.id({ required: true }), after: t.arg({ type: 'ConsistencyToken' }) },
      resolve: (_root, args, ctx) => {
        watchLive(ctx, ORDERS_PROJECTION, orderKey(args.id));
        return readAfter(ctx, args.after, (q) => queries(ctx).execute('order', { id: args.id }, q));
      },
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
      resolve: (_root, { after, ...args }, ctx) => {
        watchLive(ctx, ORDERS_PROJECTION, customerKey(args.customerId));
        return readAfter(ctx, after, (q) => queries(ctx).execute('customerOrders', withoutNulls(args) as never, q));
      },
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
      resolve: (_root, { after, ...args }, ctx) => {
        // An admin searches every order; a customer only its own.
        watchLive(ctx, ORDERS_PROJECTION, isAdmin(ctx.caller) ? ANY_ROW : customerKey(ctx.caller.userId ?? ''));
        return readAfter(ctx, after, (q) => queries(ctx).execute('searchOrders', withoutNulls(args) as never, q));
      },
    }),
    customerSummary: t.field({
      type: CustomerSummaryRef,
      nullable: true,
      args: { customerId: t.arg.id({ required: true }), after: t.arg({ type: 'ConsistencyToken' }) },
      resolve: (_root, args, ctx) => {
        watchLive(ctx, CUSTOMER_SUMMARIES_PROJECTION, customerKey(args.customerId));
        return readAfter(ctx, args.after, (q) => queries(ctx).execute('customerSummary', { customerId: args.customerId }, q));
      },
    }),
  }));
}

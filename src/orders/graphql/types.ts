// The Orders GraphQL types: Order (other modules' faces add fields to it), its items and address, the
// order page, CustomerSummary and the payload every order mutation returns.
import type { CommandResult } from '../../core/command-handler.ts';
import { encodeToken, type Position } from '../../core/position.ts';
import { perBuilder } from '../../graphql/builder.ts';
import { readAfter } from '../../graphql/consistency.ts';
import { type GraphQLContext, queriesOf } from '../../graphql/context.ts';
import { pageType } from '../../graphql/page.ts';
import { ERASED, openRecord } from '../../core/personal-data.ts';
import type { Address } from '../events.ts';
import type { OrderQueries } from '../module.ts';
import { ORDER_STATUSES, PAYMENT_STATUSES } from '../order.ts';
import type { CustomerSummaryView } from '../read-models/customer-summaries.ts';
import type { OrderItemRow, OrderView } from '../read-models/orders.ts';

export const queries = (ctx: GraphQLContext) => queriesOf<OrderQueries>(ctx);

export const orderTypes = perBuilder((builder) => {
  const OrderRef = builder.objectRef<OrderView>('Order');
  const OrderStatusEnum = builder.enumType('OrderStatus', { values: ORDER_STATUSES });
  const PaymentStatusEnum = builder.enumType('PaymentStatus', {
    description: 'PAID once a payment service captured the order total (payments.captured).',
    values: PAYMENT_STATUSES,
  });
  const OrderSortField = builder.enumType('OrderSortField', { values: ['CREATED_AT', 'TOTAL_AMOUNT'] as const });
  const SortOrder = builder.enumType('SortOrder', { values: ['ASC', 'DESC'] as const });

  const AddressRef = builder.objectRef<Address & { erased: boolean }>('Address').implement({
    description: `line1, city and postalCode are the customer's personal data: "${ERASED}" once the customer is forgotten.`,
    fields: (t) => ({
      line1: t.exposeString('line1'),
      city: t.exposeString('city'),
      postalCode: t.exposeString('postalCode'),
      country: t.exposeString('country', { description: 'ISO 3166-1 alpha-2' }),
      erased: t.exposeBoolean('erased', {
        description: 'The customer was forgotten (forgetCustomer): the personal fields read "[erased]".',
      }),
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
      // Stored sealed; opened here, at the edge, only when asked for.
      shippingAddress: t.field({
        type: AddressRef,
        resolve: (o, _args, ctx) => openRecord(o.shippingAddress, { open: (sealed) => ctx.services.personal.open(sealed, ctx.caller) }),
      }),
      version: t.exposeInt('version'),
      createdAt: t.field({ type: 'DateTime', resolve: (o) => o.createdAt }),
      updatedAt: t.field({ type: 'DateTime', resolve: (o) => o.updatedAt }),
      shippedAt: t.field({ type: 'DateTime', nullable: true, resolve: (o) => o.shippedAt }),
      cancelledAt: t.field({ type: 'DateTime', nullable: true, resolve: (o) => o.cancelledAt }),
      cancelReason: t.exposeString('cancelReason', { nullable: true }),
      cancelledBy: t.exposeID('cancelledBy', { nullable: true, description: 'Who cancelled it (a user id); null for the system.' }),
      paymentStatus: t.field({ type: PaymentStatusEnum, resolve: (o) => o.paymentStatus }),
      paidAt: t.field({ type: 'DateTime', nullable: true, resolve: (o) => o.paidAt }),
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

  const ForgetPayloadRef = builder.objectRef<{ customerId: string; position: Position }>('ForgetPayload').implement({
    description:
      "What forgetCustomer returns: once a read passes consistencyToken, every read model shows the customer's personal fields erased.",
    fields: (t) => ({
      customerId: t.exposeID('customerId'),
      consistencyToken: t.field({ type: 'ConsistencyToken', resolve: (r) => encodeToken(r.position) }),
    }),
  });

  return { OrderRef, OrderStatusEnum, OrderSortField, SortOrder, OrderPageRef, CustomerSummaryRef, OrderPayloadRef, ForgetPayloadRef };
});

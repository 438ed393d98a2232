// The Orders GraphQL inputs: what createOrder, addOrderItem, cancelOrder and shipOrder take.
import { perBuilder } from '../../graphql/builder.ts';

export const orderInputs = perBuilder((builder) => {
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

  return { CreateOrderInput, AddOrderItemInput, CancelOrderInput, ShipOrderInput };
});

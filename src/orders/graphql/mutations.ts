// The Orders GraphQL mutations, on the command bus: createOrder, addOrderItem, cancelOrder, shipOrder.
import type { Builder } from '../../graphql/builder.ts';
import { dispatchCommand, withoutNulls } from '../../graphql/commands.ts';
import type { GraphQLContext } from '../../graphql/context.ts';
import type { OrderCommand } from '../decider.ts';
import { orderAggregate } from '../order-aggregate.ts';
import { orderInputs } from './inputs.ts';
import { orderTypes } from './types.ts';

const dispatch = (ctx: GraphQLContext, type: OrderCommand['type'], input: object) =>
  dispatchCommand(ctx, orderAggregate.inputs, type, input);

export function orderMutationFields(builder: Builder): void {
  const { OrderPayloadRef } = orderTypes(builder);
  const { CreateOrderInput, AddOrderItemInput, CancelOrderInput, ShipOrderInput } = orderInputs(builder);
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
}

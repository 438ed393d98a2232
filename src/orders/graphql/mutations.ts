// The Orders GraphQL mutations, on the command bus: createOrder, addOrderItem, cancelOrder, shipOrder; and
// forgetCustomer, which destroys a customer's data key.
import { z } from 'zod';
import { id } from '../../core/input-fields.ts';
import { maxPosition } from '../../core/position.ts';
import { parseWith } from '../../core/validation.ts';
import type { Builder } from '../../graphql/builder.ts';
import { dispatchCommand, withoutNulls } from '../../graphql/commands.ts';
import type { GraphQLContext } from '../../graphql/context.ts';
import type { OrderCommand } from '../decider.ts';
import { orderAggregate } from '../order-aggregate.ts';
import { orderInputs } from './inputs.ts';
import { orderTypes } from './types.ts';

const dispatch = (ctx: GraphQLContext, type: OrderCommand['type'], input: object) =>
  dispatchCommand(ctx, orderAggregate.inputs, type, input);

const forgetArgs = z.object({ customerId: id });

export function orderMutationFields(builder: Builder): void {
  const { OrderPayloadRef, ForgetPayloadRef } = orderTypes(builder);
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
    forgetCustomer: t.field({
      type: ForgetPayloadRef,
      description:
        "Admin: destroys the customer's data key, so that every copy of its personal data (the addresses' line1, city and postal code) reads as erased. The events stay.",
      args: { customerId: t.arg.id({ required: true }) },
      resolve: async (_root, args, ctx) => {
        const { customerId } = parseWith(forgetArgs, args);
        const position = await ctx.services.personal.forget(customerId, ctx.caller, new Date());
        ctx.consistency.token = ctx.consistency.token ? maxPosition(ctx.consistency.token, position) : position;
        return { customerId, position };
      },
    }),
  }));
}

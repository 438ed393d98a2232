// CreateOrder: a new order with its first lines and a shipping address.
import { z } from 'zod';
import { assertCustomerAccess } from '../../core/caller.ts';
import { RuleViolationError, ValidationError } from '../../core/errors.ts';
import type { Command } from '../../core/messages.ts';
import type { OrderCreated } from '../events.ts';
import { MAX_LINES, type OrderState } from '../order.ts';
import { commandId, id } from '../../core/input-fields.ts';
import { address, orderLine } from './fields.ts';

export const createOrderInput = z.object({
  commandId: commandId.optional(),
  customerId: id,
  items: z.array(orderLine).min(1, 'must have at least 1 item').max(MAX_LINES, `must have at most ${MAX_LINES} items`),
  shippingAddress: address,
});

export type CreateOrder = Command<'CreateOrder', Omit<z.output<typeof createOrderInput>, 'commandId'>>;

export function decideCreateOrder(command: CreateOrder, state: OrderState): [OrderCreated] {
  const orderId = command.metadata.newId;
  if (state.status !== 'NONE') throw new RuleViolationError(`Order ${orderId} already exists`);
  const { customerId, items, shippingAddress } = command.data;
  assertCustomerAccess(command.metadata.caller, customerId, `orders for customer ${customerId}`);
  if (items.length < 1 || items.length > MAX_LINES) {
    throw new ValidationError([{ path: ['items'], message: `must have 1 to ${MAX_LINES} items` }]);
  }
  return [
    {
      type: 'OrderCreated',
      data: { orderId, customerId, items, shippingAddress, createdAt: command.metadata.now.toISOString() },
    },
  ];
}

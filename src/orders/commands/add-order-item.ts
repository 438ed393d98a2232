// AddOrderItem: one more line on an order that is still PLACED.
import type { z } from 'zod';
import { RuleViolationError } from '../../core/errors.ts';
import type { Command } from '../../core/messages.ts';
import type { OrderItemAdded } from '../events.ts';
import { MAX_LINES, type OrderState } from '../order.ts';
import { commandId, expectedVersion, id } from '../../core/input-fields.ts';
import { orderLine } from './fields.ts';
import { requireOrder } from './require-order.ts';

export const addOrderItemInput = orderLine.extend({ commandId: commandId.optional(), orderId: id, expectedVersion });

export type AddOrderItem = Command<'AddOrderItem', Omit<z.output<typeof addOrderItemInput>, 'commandId' | 'expectedVersion'>>;

export function decideAddOrderItem(command: AddOrderItem, state: OrderState): [OrderItemAdded] {
  const { orderId, productId, quantity, unitPrice } = command.data;
  const order = requireOrder(state, orderId, command.metadata.caller);
  if (order.status !== 'PLACED') {
    throw new RuleViolationError(`Items can be added only while the order is PLACED; order ${orderId} is ${order.status}`);
  }
  if (order.lineCount >= MAX_LINES) {
    throw new RuleViolationError(`Order ${orderId} already has the maximum of ${MAX_LINES} lines`);
  }
  return [
    {
      type: 'OrderItemAdded',
      data: { orderId, productId, quantity, unitPrice, addedAt: command.metadata.now.toISOString() },
    },
  ];
}

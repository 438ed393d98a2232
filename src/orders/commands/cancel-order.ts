// CancelOrder: only a PLACED order can be cancelled, with a reason.
import { z } from 'zod';
import { RuleViolationError } from '../../core/errors.ts';
import type { Command } from '../../core/messages.ts';
import type { OrderCancelled } from '../events.ts';
import type { OrderState } from '../order.ts';
import { commandId, expectedVersion, id, requiredText } from '../../core/input-fields.ts';
import { requireOrder } from './require-order.ts';

export const cancelOrderInput = z.object({
  commandId: commandId.optional(),
  orderId: id,
  expectedVersion,
  reason: requiredText(500),
});

export type CancelOrder = Command<'CancelOrder', Omit<z.output<typeof cancelOrderInput>, 'commandId' | 'expectedVersion'>>;

export function decideCancelOrder(command: CancelOrder, state: OrderState): [OrderCancelled] {
  const { orderId, reason } = command.data;
  const order = requireOrder(state, orderId, command.metadata.caller);
  if (order.status !== 'PLACED') {
    throw new RuleViolationError(`Only a PLACED order can be cancelled; order ${orderId} is ${order.status}`);
  }
  return [
    {
      type: 'OrderCancelled',
      data: { orderId, reason, cancelledAt: command.metadata.now.toISOString(), cancelledBy: command.metadata.caller.userId },
    },
  ];
}

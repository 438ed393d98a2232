// MarkOrderPaid: a payment service captured an order's total (payments.captured, see ../payments.ts). The
// amount must be the order's total, exactly; an order is paid once, and a second payment of it (another
// paymentId) is refused so that whoever took the money twice hears of it (its dead letter). A cancelled
// or shipped order may still be paid: the money was taken, and the event records that it was.
import { z } from 'zod';
import { RuleViolationError } from '../../core/errors.ts';
import { id } from '../../core/input-fields.ts';
import type { Command } from '../../core/messages.ts';
import type { OrderPaid } from '../events.ts';
import type { OrderState } from '../order.ts';
import { money } from './fields.ts';
import { requireOrder } from './require-order.ts';

export const markOrderPaidInput = z.object({ paymentId: id, orderId: id, amount: money });

export type MarkOrderPaid = Command<'MarkOrderPaid', z.output<typeof markOrderPaidInput>>;

export function decideMarkOrderPaid(command: MarkOrderPaid, state: OrderState): [OrderPaid] {
  const { orderId, paymentId, amount } = command.data;
  const order = requireOrder(state, orderId, command.metadata.caller);
  if (order.paidBy !== undefined) {
    throw new RuleViolationError(`Order ${orderId} is already paid (payment ${order.paidBy}); payment ${paymentId} is a second one`);
  }
  if (amount !== order.total) {
    throw new RuleViolationError(`Payment ${paymentId} of ${amount} does not match the total ${order.total} of order ${orderId}`);
  }
  return [{ type: 'OrderPaid', data: { orderId, paymentId, amount, paidAt: command.metadata.now.toISOString() } }];
}

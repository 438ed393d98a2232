import { NotFoundError } from '../../core/errors.ts';
import type { OrderState } from '../order.ts';

/** A command on an order that has no events is NOT_FOUND. */
export function requireOrder(state: OrderState, orderId: string): Exclude<OrderState, { status: 'NONE' }> {
  if (state.status === 'NONE') throw new NotFoundError(`Order ${orderId} not found`);
  return state;
}

// The order a command is about, with the checks every command on an existing order makes first.
import { assertCustomerAccess, type Caller } from '../../core/caller.ts';
import { NotFoundError } from '../../core/errors.ts';
import type { OrderState } from '../order.ts';

/**
 * The order a command is about: NOT_FOUND when it has no events, FORBIDDEN when the caller is a
 * customer other than the order's (checked here, in the decider, so that no entry point can skip it).
 */
export function requireOrder(state: OrderState, orderId: string, caller: Caller): Exclude<OrderState, { status: 'NONE' }> {
  if (state.status === 'NONE') throw new NotFoundError(`Order ${orderId} not found`);
  assertCustomerAccess(caller, state.customerId, `order ${orderId}`);
  return state;
}

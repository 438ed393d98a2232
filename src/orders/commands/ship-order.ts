// ShipOrder: only a PLACED order can be shipped.
import { z } from 'zod';
import { RuleViolationError } from '../../core/errors.ts';
import type { Command } from '../../core/messages.ts';
import type { OrderShipped } from '../events.ts';
import type { OrderState } from '../order.ts';
import { commandId, expectedVersion, id } from '../../core/input-fields.ts';
import { requireOrder } from './require-order.ts';

export const shipOrderInput = z.object({ commandId: commandId.optional(), orderId: id, expectedVersion });

export type ShipOrder = Command<'ShipOrder', Omit<z.output<typeof shipOrderInput>, 'commandId' | 'expectedVersion'>>;

export function decideShipOrder(command: ShipOrder, state: OrderState): [OrderShipped] {
  const { orderId } = command.data;
  const order = requireOrder(state, orderId, command.metadata.caller);
  if (order.status !== 'PLACED') {
    throw new RuleViolationError(`Only a PLACED order can be shipped; order ${orderId} is ${order.status}`);
  }
  return [{ type: 'OrderShipped', data: { orderId, shippedAt: command.metadata.now.toISOString() } }];
}

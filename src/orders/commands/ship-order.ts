// ShipOrder: only a PLACED order whose stock is reserved can be shipped. Its fulfilment comes from its
// fulfilment stream, read once the fulfilment process has handled the order's last event (the handler
// waits for that: see relatedStreams in order-aggregate.ts); an order with no outcome recorded then has
// nothing stock-controlled, and counts as RESERVED. The decision rests on events only, never a read model.
import { z } from 'zod';
import { RuleViolationError } from '../../core/errors.ts';
import { commandId, expectedVersion, id } from '../../core/input-fields.ts';
import type { Command } from '../../core/messages.ts';
import type { OrderShipped } from '../events.ts';
import type { FulfilmentStatus } from '../fulfilment/events.ts';
import type { OrderState } from '../order.ts';
import { requireOrder } from './require-order.ts';

export const shipOrderInput = z.object({ commandId: commandId.optional(), orderId: id, expectedVersion });

export type ShipOrder = Command<'ShipOrder', Omit<z.output<typeof shipOrderInput>, 'commandId' | 'expectedVersion'>>;

export function decideShipOrder(command: ShipOrder, state: OrderState): [OrderShipped] {
  const { orderId } = command.data;
  const order = requireOrder(state, orderId, command.metadata.caller);
  if (order.status !== 'PLACED') {
    throw new RuleViolationError(`Only a PLACED order can be shipped; order ${orderId} is ${order.status}`);
  }
  // Until the process has handled the order's last event, its fulfilment stream may not account for it
  // (a line just added may not fit): then it is PENDING, whatever the stream says so far.
  const fulfilment: FulfilmentStatus = command.metadata.reactions === 'pending' ? 'PENDING' : (order.fulfilment ?? 'RESERVED');
  if (fulfilment !== 'RESERVED') {
    throw new RuleViolationError(
      `Order ${orderId} cannot be shipped: its fulfilment is ${fulfilment}, and only an order whose stock is RESERVED can ship`,
    );
  }
  return [{ type: 'OrderShipped', data: { orderId, shippedAt: command.metadata.now.toISOString() } }];
}

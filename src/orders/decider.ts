// The Order decider: the five commands' decide functions behind one exhaustive switch.
import type { Decider } from '../core/decider.ts';
import { assertNever } from '../core/messages.ts';
import { decideAddOrderItem, type AddOrderItem } from './commands/add-order-item.ts';
import { decideCancelOrder, type CancelOrder } from './commands/cancel-order.ts';
import { decideCreateOrder, type CreateOrder } from './commands/create-order.ts';
import { decideMarkOrderPaid, type MarkOrderPaid } from './commands/mark-order-paid.ts';
import { decideShipOrder, type ShipOrder } from './commands/ship-order.ts';
import type { OrderStreamEvent } from './events.ts';
import { evolve, initialState, type OrderDecisionEvent, type OrderState } from './order.ts';

export type OrderCommand = CreateOrder | AddOrderItem | CancelOrder | ShipOrder | MarkOrderPaid;

export function decide(command: OrderCommand, state: OrderState): OrderStreamEvent[] {
  switch (command.type) {
    case 'CreateOrder':
      return decideCreateOrder(command, state);
    case 'AddOrderItem':
      return decideAddOrderItem(command, state);
    case 'CancelOrder':
      return decideCancelOrder(command, state);
    case 'ShipOrder':
      return decideShipOrder(command, state);
    case 'MarkOrderPaid':
      return decideMarkOrderPaid(command, state);
    default:
      return assertNever(command, 'order command');
  }
}

export const orderDecider: Decider<OrderCommand, OrderDecisionEvent, OrderState> = { decide, evolve, initialState };

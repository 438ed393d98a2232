// The Order aggregate's state and evolve (only what the rules of decide need), and its statuses. Its
// state also folds the order's fulfilment stream when a decision reads it (shipping: see ship-order.ts).
import { z } from 'zod';
import { assertNever } from '../core/messages.ts';
import type { OrderEvent } from './events.ts';
import { type FulfilmentEvent, type FulfilmentStatus, statusOf } from './fulfilment/events.ts';

export const ORDER_STATUSES = ['PLACED', 'CANCELLED', 'SHIPPED'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];
/** An order status as a query's filter. */
export const orderStatus = z.enum(ORDER_STATUSES);

/** What an order's decisions fold: its own events, and its fulfilment's where a decision reads them. */
export type OrderDecisionEvent = OrderEvent | FulfilmentEvent;

export type OrderState =
  | { status: 'NONE' }
  | {
      status: OrderStatus;
      orderId: string;
      customerId: string;
      lineCount: number;
      /** The last outcome the fulfilment process recorded, when the decision read it (none yet: undefined). */
      fulfilment?: FulfilmentStatus;
    };

export const MAX_LINES = 100;

export const initialState = (): OrderState => ({ status: 'NONE' });

export function evolve(state: OrderState, event: OrderDecisionEvent): OrderState {
  switch (event.type) {
    case 'OrderCreated':
      return {
        status: 'PLACED',
        orderId: event.data.orderId,
        customerId: event.data.customerId,
        lineCount: event.data.items.length,
      };
    case 'OrderItemAdded':
      return state.status === 'NONE' ? state : { ...state, lineCount: state.lineCount + 1 };
    case 'OrderCancelled':
      return state.status === 'NONE' ? state : { ...state, status: 'CANCELLED' };
    case 'OrderShipped':
      return state.status === 'NONE' ? state : { ...state, status: 'SHIPPED' };
    case 'FulfilmentReserved':
    case 'FulfilmentBackordered':
    case 'FulfilmentReleased':
    case 'FulfilmentShipped':
      return state.status === 'NONE' ? state : { ...state, fulfilment: statusOf[event.type] };
    default:
      return assertNever(event, 'order event');
  }
}

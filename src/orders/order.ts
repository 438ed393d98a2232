// The Order aggregate's state and evolve (only what the rules of decide need), and its statuses.
import { z } from 'zod';
import { assertNever } from '../core/messages.ts';
import type { OrderEvent } from './events.ts';

export const ORDER_STATUSES = ['PLACED', 'CANCELLED', 'SHIPPED'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];
/** An order status as a query's filter. */
export const orderStatus = z.enum(ORDER_STATUSES);

export type OrderState = { status: 'NONE' } | { status: OrderStatus; orderId: string; customerId: string; lineCount: number };

export const MAX_LINES = 100;

export const initialState = (): OrderState => ({ status: 'NONE' });

export function evolve(state: OrderState, event: OrderEvent): OrderState {
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
    default:
      return assertNever(event, 'order event');
  }
}

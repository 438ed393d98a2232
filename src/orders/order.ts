// The Order aggregate's state and evolve: only what the rules of decide need.
import { assertNever } from '../core/messages.ts';
import type { OrderEvent } from './events.ts';

export type OrderStatus = 'PLACED' | 'CANCELLED' | 'SHIPPED';

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

// The Order aggregate's state and evolve (only what the rules of decide need), and its statuses. Its
// state also folds the order's fulfilment stream when a decision reads it (shipping: see ship-order.ts).
import { z } from 'zod';
import { assertNever } from '../core/messages.ts';
import { centsOf, formatMoney, lineTotal } from '../core/money.ts';
import type { OrderStreamEvent } from './events.ts';
import { type FulfilmentEvent, type FulfilmentStatus, statusOf } from './fulfilment/events.ts';

export const ORDER_STATUSES = ['PLACED', 'CANCELLED', 'SHIPPED'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];
export const PAYMENT_STATUSES = ['UNPAID', 'PAID'] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

/** An order status as a query's filter. */
export const orderStatus = z.enum(ORDER_STATUSES);

/** What an order's decisions fold: its own events, and its fulfilment's where a decision reads them. */
export type OrderDecisionEvent = OrderStreamEvent | FulfilmentEvent;

export type OrderState =
  | { status: 'NONE' }
  | {
      status: OrderStatus;
      orderId: string;
      customerId: string;
      lineCount: number;
      /** The order's total (Money), which a payment must match. */
      total: string;
      /** The payment that paid it, once one did. */
      paidBy?: string;
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
        total: formatMoney(event.data.items.reduce((sum, i) => sum + centsOf(lineTotal(i.quantity, i.unitPrice)), 0n)),
      };
    case 'OrderItemAdded': {
      if (state.status === 'NONE') return state;
      const added = lineTotal(event.data.quantity, event.data.unitPrice);
      return { ...state, lineCount: state.lineCount + 1, total: formatMoney(centsOf(state.total) + centsOf(added)) };
    }
    case 'OrderCancelled':
      return state.status === 'NONE' ? state : { ...state, status: 'CANCELLED' };
    case 'OrderShipped':
      return state.status === 'NONE' ? state : { ...state, status: 'SHIPPED' };
    case 'OrderPaid':
      return state.status === 'NONE' ? state : { ...state, paidBy: event.data.paymentId };
    case 'FulfilmentReserved':
    case 'FulfilmentBackordered':
    case 'FulfilmentReleased':
    case 'FulfilmentShipped':
      return state.status === 'NONE' ? state : { ...state, fulfilment: statusOf[event.type] };
    default:
      return assertNever(event, 'order event');
  }
}

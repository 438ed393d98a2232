// The Product aggregate's state and evolve: stock on hand, and what each order holds of it.
import { assertNever } from '../core/messages.ts';
import type { ProductEvent } from './events.ts';

/** What one order holds of a product: the quantity, and the order lines it was reserved for. */
export type Reservation = { quantity: number; lines: readonly string[] };

export type ProductState =
  | { status: 'NONE' }
  | {
      status: 'ACTIVE';
      sku: string;
      onHand: number;
      /** Open reservations by order id. */
      reservations: Readonly<Record<string, Reservation>>;
    };

export const initialState = (): ProductState => ({ status: 'NONE' });

export const reservedOf = (reservations: Readonly<Record<string, Reservation>>) =>
  Object.values(reservations).reduce((sum, r) => sum + r.quantity, 0);

const without = (reservations: Readonly<Record<string, Reservation>>, orderId: string) =>
  Object.fromEntries(Object.entries(reservations).filter(([id]) => id !== orderId));

export function evolve(state: ProductState, event: ProductEvent): ProductState {
  if (event.type === 'ProductCreated') {
    return { status: 'ACTIVE', sku: event.data.sku, onHand: event.data.onHand, reservations: {} };
  }
  if (state.status === 'NONE') return state;
  switch (event.type) {
    case 'ProductRestocked':
      return { ...state, onHand: state.onHand + event.data.quantity };
    case 'StockReserved': {
      const { orderId, line, quantity } = event.data;
      const held = state.reservations[orderId] ?? { quantity: 0, lines: [] };
      return {
        ...state,
        reservations: { ...state.reservations, [orderId]: { quantity: held.quantity + quantity, lines: [...held.lines, line] } },
      };
    }
    case 'StockReservationRejected':
      return state;
    case 'StockReleased':
      return { ...state, reservations: without(state.reservations, event.data.orderId) };
    case 'StockCommitted':
      return {
        ...state,
        onHand: state.onHand - event.data.quantity,
        reservations: without(state.reservations, event.data.orderId),
      };
    default:
      return assertNever(event, 'product event');
  }
}

// The Fulfilment aggregate: an order's fulfilment status, and which outcome may follow which.
import type { FulfilmentEvent, FulfilmentStatus } from './events.ts';
import { statusOf } from './events.ts';

export type FulfilmentState = { status: FulfilmentStatus };

export const initialState = (): FulfilmentState => ({ status: 'PENDING' });

export const evolve = (_state: FulfilmentState, event: FulfilmentEvent): FulfilmentState => ({ status: statusOf[event.type] });

/**
 * The outcomes that may follow each status; RELEASED and SHIPPED are final. A stream may begin at any
 * outcome: an order with nothing stock-controlled is RESERVED in the process's state only, and its first
 * event is its cancellation or shipping. A backorder is filled (RESERVED) when stock comes; BACKORDERED
 * to SHIPPED is refused by shipping now, and stays allowed here for the orders shipped before that rule.
 */
export const NEXT: Readonly<Record<FulfilmentStatus, readonly FulfilmentStatus[]>> = {
  PENDING: ['RESERVED', 'BACKORDERED', 'RELEASED', 'SHIPPED'],
  RESERVED: ['BACKORDERED', 'RELEASED', 'SHIPPED'],
  BACKORDERED: ['RESERVED', 'RELEASED', 'SHIPPED'],
  RELEASED: [],
  SHIPPED: [],
};

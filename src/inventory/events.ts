// The Product stream's events (the stream id is the product's sku). Quantities are whole units; times
// are ISO-8601 UTC.
import type { EventSchemas } from '../core/event-store.ts';
import type { Event } from '../core/messages.ts';

export const PRODUCT_STREAM_TYPE = 'Product';

export type ProductCreated = Event<'ProductCreated', { sku: string; name: string; onHand: number; createdAt: string }>;
export type ProductRestocked = Event<'ProductRestocked', { sku: string; quantity: number; restockedAt: string }>;
/** Stock set aside for an order line; `line` names the order event that brought the line. */
export type StockReserved = Event<'StockReserved', { sku: string; orderId: string; line: string; quantity: number; reservedAt: string }>;
/** A reservation refused: fewer than `quantity` were available. Recorded, so that a repeat decides the same. */
export type StockReservationRejected = Event<
  'StockReservationRejected',
  { sku: string; orderId: string; line: string; quantity: number; available: number; rejectedAt: string }
>;
/** Everything the order had reserved of this product is available again. */
export type StockReleased = Event<'StockReleased', { sku: string; orderId: string; quantity: number; releasedAt: string }>;
/** The order's reserved stock left with it: on hand and reserved both drop. */
export type StockCommitted = Event<'StockCommitted', { sku: string; orderId: string; quantity: number; committedAt: string }>;

export type ProductEvent = ProductCreated | ProductRestocked | StockReserved | StockReservationRejected | StockReleased | StockCommitted;

export const PRODUCT_EVENT_TYPES: readonly ProductEvent['type'][] = [
  'ProductCreated',
  'ProductRestocked',
  'StockReserved',
  'StockReservationRejected',
  'StockReleased',
  'StockCommitted',
];

export const productEventSchemas: EventSchemas = Object.fromEntries(PRODUCT_EVENT_TYPES.map((type) => [type, { version: 1 }]));

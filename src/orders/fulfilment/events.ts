// The outcome of fulfilling an order, one stream per order ("fulfilment/<orderId>"), appended by the
// fulfilment process: what became of the stock its lines asked for.
import type { EventSchemas } from '../../core/event-store.ts';
import type { Event } from '../../core/messages.ts';

export const FULFILMENT_STREAM_TYPE = 'Fulfilment';

export const fulfilmentStreamId = (orderId: string) => `fulfilment/${orderId}`;

/** Every stock-controlled line is reserved (or none is stock-controlled). */
export type FulfilmentReserved = Event<'FulfilmentReserved', { orderId: string; at: string }>;
/** A line could not be reserved; nothing of the order stays reserved. */
export type FulfilmentBackordered = Event<'FulfilmentBackordered', { orderId: string; at: string }>;
/** Cancelled: its reservations returned. */
export type FulfilmentReleased = Event<'FulfilmentReleased', { orderId: string; at: string }>;
/** Shipped: its reserved stock left. */
export type FulfilmentShipped = Event<'FulfilmentShipped', { orderId: string; at: string }>;

export type FulfilmentEvent = FulfilmentReserved | FulfilmentBackordered | FulfilmentReleased | FulfilmentShipped;

export const FULFILMENT_EVENT_TYPES: readonly FulfilmentEvent['type'][] = [
  'FulfilmentReserved',
  'FulfilmentBackordered',
  'FulfilmentReleased',
  'FulfilmentShipped',
];

export const fulfilmentEventSchemas: EventSchemas = Object.fromEntries(FULFILMENT_EVENT_TYPES.map((type) => [type, { version: 1 }]));

export const FULFILMENT_STATUSES = ['PENDING', 'RESERVED', 'BACKORDERED', 'RELEASED', 'SHIPPED'] as const;
export type FulfilmentStatus = (typeof FULFILMENT_STATUSES)[number];

export const statusOf: Record<FulfilmentEvent['type'], FulfilmentStatus> = {
  FulfilmentReserved: 'RESERVED',
  FulfilmentBackordered: 'BACKORDERED',
  FulfilmentReleased: 'RELEASED',
  FulfilmentShipped: 'SHIPPED',
};

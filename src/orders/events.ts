// The Order stream's events. Amounts are Money strings with two fraction digits; times are ISO-8601 UTC.
import type { Event } from '../core/messages.ts';
import type { EventSchemas } from '../core/event-store.ts';

export const ORDER_STREAM_TYPE = 'Order';

export type Address = { line1: string; city: string; postalCode: string; country: string };
export type OrderLine = { productId: string; quantity: number; unitPrice: string };

export type OrderCreated = Event<
  'OrderCreated',
  { orderId: string; customerId: string; items: OrderLine[]; shippingAddress: Address; createdAt: string }
>;
export type OrderItemAdded = Event<'OrderItemAdded', { orderId: string; addedAt: string } & OrderLine>;
/** Version 2 records who cancelled (the user id; null for the system or open development mode). */
export type OrderCancelled = Event<'OrderCancelled', { orderId: string; reason: string; cancelledAt: string; cancelledBy: string | null }>;
export type OrderShipped = Event<'OrderShipped', { orderId: string; shippedAt: string }>;

/** The order's lifecycle: what the fulfilment process and the customer summaries follow. */
export type OrderEvent = OrderCreated | OrderItemAdded | OrderCancelled | OrderShipped;

/** A payment service captured the order's total (payments.captured, see payments.ts). */
export type OrderPaid = Event<'OrderPaid', { orderId: string; paymentId: string; amount: string; paidAt: string }>;

/** Every event of an Order stream. */
export type OrderStreamEvent = OrderEvent | OrderPaid;

export const ORDER_EVENT_TYPES: readonly OrderEvent['type'][] = ['OrderCreated', 'OrderItemAdded', 'OrderCancelled', 'OrderShipped'];

/** The events that change an order already there (all but its creation). */
export const LATER_ORDER_EVENT_TYPES = ORDER_EVENT_TYPES.filter((type) => type !== 'OrderCreated');

export const ORDER_STREAM_EVENT_TYPES: readonly OrderStreamEvent['type'][] = [...ORDER_EVENT_TYPES, 'OrderPaid'];

/** Each event type's current schema version, and the upcasters that bring older shapes up to it. */
export const orderEventSchemas: EventSchemas = {
  // The address's line, city and postal code are the customer's personal data: stored sealed with the
  // customer's key, erased when the customer is forgotten (the country stays: shipping and statistics need it).
  OrderCreated: {
    version: 1,
    personal: { subject: 'customerId', paths: ['shippingAddress.line1', 'shippingAddress.city', 'shippingAddress.postalCode'] },
  },
  OrderItemAdded: { version: 1 },
  // Version 1 did not record who cancelled.
  OrderCancelled: { version: 2, upcasters: { 1: (data: Omit<OrderCancelled['data'], 'cancelledBy'>) => ({ ...data, cancelledBy: null }) } },
  OrderShipped: { version: 1 },
  OrderPaid: { version: 1 },
};

// The Orders events other services may see (subjects converge.orders.<name>), and their public shapes:
// ids, lines, amounts and times, the shipping country; never the address's personal fields, nor who
// cancelled (a user id is for this service's own audit).
import type { StoredEvent } from '../core/messages.ts';
import { centsOf, formatMoney, lineTotal } from '../core/money.ts';
import { definePublicEvents } from '../core/public-events.ts';
import type { OrderCreated, OrderStreamEvent } from './events.ts';

const totalOf = (event: StoredEvent<OrderCreated>) =>
  formatMoney(event.data.items.reduce((sum, i) => sum + centsOf(lineTotal(i.quantity, i.unitPrice)), 0n));

export const orderPublicEvents = definePublicEvents<OrderStreamEvent>()({
  OrderCreated: {
    name: 'created',
    version: 1,
    data: (event) => ({
      orderId: event.data.orderId,
      customerId: event.data.customerId,
      items: event.data.items.map((i) => ({ ...i, lineTotal: lineTotal(i.quantity, i.unitPrice) })),
      totalAmount: totalOf(event),
      shippingCountry: event.data.shippingAddress.country,
      createdAt: event.data.createdAt,
    }),
  },
  OrderItemAdded: {
    name: 'item-added',
    version: 1,
    data: ({ data }) => ({
      orderId: data.orderId,
      productId: data.productId,
      quantity: data.quantity,
      unitPrice: data.unitPrice,
      lineTotal: lineTotal(data.quantity, data.unitPrice),
      addedAt: data.addedAt,
    }),
  },
  OrderCancelled: {
    name: 'cancelled',
    version: 1,
    data: ({ data }) => ({ orderId: data.orderId, reason: data.reason, cancelledAt: data.cancelledAt }),
  },
  OrderShipped: { name: 'shipped', version: 1, data: ({ data }) => ({ orderId: data.orderId, shippedAt: data.shippedAt }) },
  OrderPaid: {
    name: 'paid',
    version: 1,
    data: ({ data }) => ({ orderId: data.orderId, paymentId: data.paymentId, amount: data.amount, paidAt: data.paidAt }),
  },
});

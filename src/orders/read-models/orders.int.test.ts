// The `orders` projection, given / when / then on an embedded PGlite: each event's effect on the row of
// its order, folded per order within a batch, and the search text kept up to date.
import { afterAll, describe, it } from 'vitest';
import type { RowOf } from '../../core/tables.ts';
import { projectionSpec, rowsOf, type SpecEvent } from '../../testing/index.ts';
import type { OrderStreamEvent } from '../events.ts';
import { orders, ordersProjection } from './orders.ts';

const spec = projectionSpec(ordersProjection);
afterAll(() => spec.close());

const at = '2026-01-01T00:00:00.000Z';
const later = '2026-01-02T00:00:00.000Z';
const address = { line1: '1 Main St', city: 'Berlin', postalCode: '10115', country: 'DE' };
const order = (type: OrderStreamEvent['type'], data: object, streamId = 'o-1') =>
  ({ streamId, streamType: 'Order', type, data }) as SpecEvent<OrderStreamEvent>;
const created = (id = 'o-1', customerId = 'c-1') =>
  order(
    'OrderCreated',
    { orderId: id, customerId, items: [{ productId: 'Beans', quantity: 2, unitPrice: '9.99' }], shippingAddress: address, createdAt: at },
    id,
  );

const placed: RowOf<typeof orders> = {
  id: 'o-1',
  customerId: 'c-1',
  status: 'PLACED',
  items: [{ productId: 'Beans', quantity: 2, unitPrice: '9.99', lineTotal: '19.98' }],
  itemCount: 2,
  totalAmount: '19.98',
  shippingAddress: address,
  version: 1,
  createdAt: at,
  updatedAt: at,
  searchText: 'o-1\u001fc-1\u001fbeans',
  shippedAt: null,
  cancelledAt: null,
  cancelReason: null,
  cancelledBy: null,
  paymentStatus: 'UNPAID',
  paidAt: null,
};

describe('orders projection', () => {
  it('given nothing, when an order is created, then its row holds the lines, totals and search text', async () => {
    await spec
      .given()
      .when(created())
      .then(rowsOf(orders, [placed]));
  });

  it('given an order, when items are added in one batch, then both lines count and the version is the last', async () => {
    await spec
      .given(created())
      .when(
        order('OrderItemAdded', { orderId: 'o-1', productId: 'Mug', quantity: 1, unitPrice: '5.00', addedAt: later }),
        order('OrderItemAdded', { orderId: 'o-1', productId: 'Filter', quantity: 3, unitPrice: '0.50', addedAt: later }),
      )
      .then(
        rowsOf(orders, [
          {
            ...placed,
            items: [
              ...placed.items,
              { productId: 'Mug', quantity: 1, unitPrice: '5.00', lineTotal: '5.00' },
              { productId: 'Filter', quantity: 3, unitPrice: '0.50', lineTotal: '1.50' },
            ],
            itemCount: 6,
            totalAmount: '26.48',
            version: 3,
            updatedAt: later,
            searchText: 'o-1\u001fc-1\u001fbeans\u001fmug\u001ffilter',
          },
        ]),
      );
  });

  it('given a row already in the table, when the order is cancelled, then the row it found is the one changed', async () => {
    await spec
      .given(created(), created('o-2', 'c-2'))
      .when(order('OrderCancelled', { orderId: 'o-1', reason: 'changed my mind', cancelledAt: later, cancelledBy: 'c-1' }))
      .then(
        rowsOf(orders, [
          {
            ...placed,
            status: 'CANCELLED',
            version: 2,
            updatedAt: later,
            cancelledAt: later,
            cancelReason: 'changed my mind',
            cancelledBy: 'c-1',
          },
          { ...placed, id: 'o-2', customerId: 'c-2', searchText: 'o-2\u001fc-2\u001fbeans' },
        ]),
      );
  });

  it('given an order, when it ships, then it is SHIPPED with the time', async () => {
    await spec
      .given(created())
      .when(order('OrderShipped', { orderId: 'o-1', shippedAt: later }))
      .then(rowsOf(orders, [{ ...placed, status: 'SHIPPED', version: 2, updatedAt: later, shippedAt: later }]));
  });

  it('given an order, when it is paid, then it is PAID with the time, its status untouched', async () => {
    await spec
      .given(created())
      .when(order('OrderPaid', { orderId: 'o-1', paymentId: 'pay-1', amount: '19.98', paidAt: later }))
      .then(rowsOf(orders, [{ ...placed, paymentStatus: 'PAID', paidAt: later, version: 2, updatedAt: later }]));
  });

  it('when a later event names an order the read model does not have, then the step fails', async () => {
    await spec
      .given()
      .when(order('OrderShipped', { orderId: 'o-9', shippedAt: later }, 'o-9'))
      .thenThrows(/OrderShipped for order o-9, which the read model does not have/);
  });
});

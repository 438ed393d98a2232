// The `customer_summaries` projection, given / when / then on an embedded PGlite: counts and totals per
// customer, cancelled orders left out of what was spent, and the helper rows that carry each order's
// customer to the events that name only the order.
import { afterAll, describe, it } from 'vitest';
import { projectionSpec, rowsOf, type SpecEvent } from '../../testing/index.ts';
import type { OrderEvent } from '../events.ts';
import { customerSummaries, customerSummariesProjection, customerSummaryOrders } from './customer-summaries.ts';

const spec = projectionSpec(customerSummariesProjection);
afterAll(() => spec.close());

const address = { line1: '1 Main St', city: 'Berlin', postalCode: '10115', country: 'DE' };
const order = (type: OrderEvent['type'], data: object, streamId: string) =>
  ({ streamId, streamType: 'Order', type, data }) as SpecEvent<OrderEvent>;
const created = (id: string, customerId: string, unitPrice: string, createdAt = '2026-01-01T00:00:00.000Z') =>
  order(
    'OrderCreated',
    { orderId: id, customerId, items: [{ productId: 'p', quantity: 1, unitPrice }], shippingAddress: address, createdAt },
    id,
  );

describe('customer_summaries projection', () => {
  it('when a customer places two orders, then its summary counts both, sums them and keeps the latest time', async () => {
    await spec
      .given()
      .when(created('o-1', 'c-1', '10.00', '2026-01-02T00:00:00.000Z'), created('o-2', 'c-1', '5.50', '2026-01-01T00:00:00.000Z'))
      .then(
        rowsOf(customerSummaries, [
          { customerId: 'c-1', orderCount: 2, cancelledCount: 0, totalSpent: '15.50', lastOrderAt: '2026-01-02T00:00:00.000Z' },
        ]),
        rowsOf(customerSummaryOrders, [
          { orderId: 'o-1', customerId: 'c-1', status: 'PLACED', totalAmount: '10.00' },
          { orderId: 'o-2', customerId: 'c-1', status: 'PLACED', totalAmount: '5.50' },
        ]),
      );
  });

  it('given an order, when an item is added and then it is cancelled, then what was spent leaves out the whole order', async () => {
    await spec
      .given(created('o-1', 'c-1', '10.00'), created('o-2', 'c-1', '1.00'))
      .when(
        order(
          'OrderItemAdded',
          { orderId: 'o-1', productId: 'q', quantity: 2, unitPrice: '2.50', addedAt: '2026-01-03T00:00:00.000Z' },
          'o-1',
        ),
        order('OrderCancelled', { orderId: 'o-1', reason: 'no', cancelledAt: '2026-01-03T00:00:00.000Z', cancelledBy: null }, 'o-1'),
      )
      .then(
        rowsOf(customerSummaries, [
          { customerId: 'c-1', orderCount: 2, cancelledCount: 1, totalSpent: '1.00', lastOrderAt: '2026-01-01T00:00:00.000Z' },
        ]),
        rowsOf(customerSummaryOrders, [
          { orderId: 'o-1', customerId: 'c-1', status: 'CANCELLED', totalAmount: '15.00' },
          { orderId: 'o-2', customerId: 'c-1', status: 'PLACED', totalAmount: '1.00' },
        ]),
      );
  });

  it('given the rows only (no events), when an order of that customer ships, then the customer comes from the order row', async () => {
    await spec
      .given(
        rowsOf(customerSummaryOrders, [{ orderId: 'o-7', customerId: 'c-7', status: 'PLACED', totalAmount: '3.00' }]),
        rowsOf(customerSummaries, [{ customerId: 'c-7', orderCount: 1, cancelledCount: 0, totalSpent: '3.00', lastOrderAt: null }]),
      )
      .when(order('OrderShipped', { orderId: 'o-7', shippedAt: '2026-01-05T00:00:00.000Z' }, 'o-7'))
      .then(
        rowsOf(customerSummaryOrders, [{ orderId: 'o-7', customerId: 'c-7', status: 'SHIPPED', totalAmount: '3.00' }]),
        rowsOf(customerSummaries, [{ customerId: 'c-7', orderCount: 1, cancelledCount: 0, totalSpent: '3.00', lastOrderAt: null }]),
      );
  });

  it('a second cancellation of one order counts once', async () => {
    const cancel = order(
      'OrderCancelled',
      { orderId: 'o-1', reason: 'no', cancelledAt: '2026-01-03T00:00:00.000Z', cancelledBy: null },
      'o-1',
    );
    await spec
      .given(created('o-1', 'c-1', '4.00'))
      .when(cancel, cancel)
      .then(
        rowsOf(customerSummaries, [
          { customerId: 'c-1', orderCount: 1, cancelledCount: 1, totalSpent: '0.00', lastOrderAt: '2026-01-01T00:00:00.000Z' },
        ]),
      );
  });
});

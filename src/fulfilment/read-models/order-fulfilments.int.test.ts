// The `order_fulfilments` projection, given / when / then on an embedded PGlite: each order's status is
// its last outcome event's.
import { afterAll, describe, it } from 'vitest';
import { projectionSpec, rowsOf, type SpecEvent } from '../../testing/index.ts';
import type { FulfilmentEvent } from '../../orders/fulfilment/events.ts';
import { orderFulfilments, orderFulfilmentsProjection } from './order-fulfilments.ts';

const spec = projectionSpec(orderFulfilmentsProjection);
afterAll(() => spec.close());

const outcome = (type: FulfilmentEvent['type'], orderId: string, at: string) =>
  ({ streamId: `fulfilment/${orderId}`, streamType: 'Fulfilment', type, data: { orderId, at } }) as SpecEvent<FulfilmentEvent>;

describe('order_fulfilments projection', () => {
  it('when outcomes follow one another, then each order shows its last', async () => {
    await spec
      .given(outcome('FulfilmentReserved', 'o-1', '2026-01-01T00:00:00.000Z'))
      .when(
        outcome('FulfilmentBackordered', 'o-2', '2026-01-02T00:00:00.000Z'),
        outcome('FulfilmentShipped', 'o-1', '2026-01-03T00:00:00.000Z'),
        outcome('FulfilmentReleased', 'o-2', '2026-01-04T00:00:00.000Z'),
      )
      .then(
        rowsOf(orderFulfilments, [
          { orderId: 'o-1', status: 'SHIPPED', updatedAt: '2026-01-03T00:00:00.000Z' },
          { orderId: 'o-2', status: 'RELEASED', updatedAt: '2026-01-04T00:00:00.000Z' },
        ]),
      );
  });
});

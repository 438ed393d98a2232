// The `products` projection, given / when / then on an embedded PGlite: stock on hand and reserved after
// each product event.
import { afterAll, describe, it } from 'vitest';
import { projectionSpec, rowsOf, type SpecEvent } from '../../testing/index.ts';
import type { ProductEvent } from '../events.ts';
import { products, productsProjection } from './products.ts';

const spec = projectionSpec(productsProjection);
afterAll(() => spec.close());

const at = '2026-01-01T00:00:00.000Z';
const product = (type: ProductEvent['type'], data: object, sku = 'kettle') =>
  ({ streamId: sku, streamType: 'Product', type, data }) as SpecEvent<ProductEvent>;
const created = (sku = 'kettle', onHand = 5) => product('ProductCreated', { sku, name: `A ${sku}`, onHand, createdAt: at }, sku);
const row = { sku: 'kettle', name: 'A kettle', onHand: 5, reserved: 0, version: 1, updatedAt: at };

describe('products projection', () => {
  it('when a product is created, then its row has its stock and nothing reserved', async () => {
    await spec
      .given()
      .when(created())
      .then(rowsOf(products, [row]));
  });

  it('given a product, when stock is reserved, released, reserved again, committed and restocked, then on hand and reserved follow', async () => {
    const t = (n: number) => `2026-01-0${n}T00:00:00.000Z`;
    await spec
      .given(created())
      .when(
        product('StockReserved', { sku: 'kettle', orderId: 'o-1', line: 'o-1@1', quantity: 2, reservedAt: t(2) }),
        product('StockReservationRejected', { sku: 'kettle', orderId: 'o-2', line: 'o-2@1', quantity: 9, available: 3, rejectedAt: t(3) }),
        product('StockReleased', { sku: 'kettle', orderId: 'o-1', quantity: 2, releasedAt: t(4) }),
        product('StockReserved', { sku: 'kettle', orderId: 'o-3', line: 'o-3@1', quantity: 4, reservedAt: t(5) }),
        product('StockCommitted', { sku: 'kettle', orderId: 'o-3', quantity: 4, committedAt: t(6) }),
        product('ProductRestocked', { sku: 'kettle', quantity: 10, restockedAt: t(7) }),
      )
      .then(rowsOf(products, [{ ...row, onHand: 11, reserved: 0, version: 7, updatedAt: t(7) }]));
  });

  it('given rows of two products, when one is reserved, then only that one changes', async () => {
    await spec
      .given(rowsOf(products, [row, { ...row, sku: 'mug', name: 'A mug' }]))
      .when(product('StockReserved', { sku: 'mug', orderId: 'o-1', line: 'o-1@1', quantity: 1, reservedAt: at }, 'mug'))
      .then(rowsOf(products, [row, { ...row, sku: 'mug', name: 'A mug', reserved: 1 }]));
  });
});

// The fulfilment process, given / when / then on an embedded PGlite with the real Product and
// Fulfilment aggregates: the commands each order event makes it send, with the ids it derives from the
// event, so that a replay sends the same ones.
import { afterAll, describe, it } from 'vitest';
import { inventoryModule } from '../inventory/module.ts';
import { encodeToken } from '../core/position.ts';
import { causedCommandId, processManagerSpec, rowsOf, type SpecEvent } from '../testing/index.ts';
import type { OrderEvent } from '../orders/events.ts';
import { fulfilmentAggregate } from '../orders/fulfilment/fulfilment-aggregate.ts';
import { fulfilmentProcess } from './process.ts';
import { fulfilmentProcess as processTable } from './read-models/fulfilment-process.ts';

const spec = processManagerSpec(fulfilmentProcess, { aggregates: [...inventoryModule.aggregates, fulfilmentAggregate] });
afterAll(() => spec.close());

const at = '2026-01-01T00:00:00.000Z';
const address = { line1: '1 Main St', city: 'Berlin', postalCode: '10115', country: 'DE' };
const product = (sku: string, onHand: number): SpecEvent => ({
  streamId: sku,
  streamType: 'Product',
  type: 'ProductCreated',
  data: { sku, name: sku, onHand, createdAt: at },
});
const order = (type: OrderEvent['type'], data: object, orderId = 'o-1') =>
  ({ streamId: orderId, streamType: 'Order', type, data }) as SpecEvent<OrderEvent>;
const created = (items: { productId: string; quantity: number }[], orderId = 'o-1') =>
  order(
    'OrderCreated',
    { orderId, customerId: 'c-1', items: items.map((i) => ({ ...i, unitPrice: '1.00' })), shippingAddress: address, createdAt: at },
    orderId,
  );
const id = causedCommandId.bind(null, 'fulfilment');

describe('fulfilment process', () => {
  it('given products in stock, when an order asks for two of them, then it reserves each (by sku) and records RESERVED', async () => {
    await spec
      .given(product('kettle', 5), product('mug', 1))
      .when(
        created([
          { productId: 'mug', quantity: 1 },
          { productId: 'kettle', quantity: 2 },
          { productId: 'no-such-product', quantity: 3 },
        ]),
      )
      .then(([event]) => [
        {
          type: 'ReserveStock',
          data: { sku: 'kettle', orderId: 'o-1', line: 'o-1@1', quantity: 2 },
          commandId: id(event!, 'reserve kettle'),
        },
        { type: 'ReserveStock', data: { sku: 'mug', orderId: 'o-1', line: 'o-1@1', quantity: 1 }, commandId: id(event!, 'reserve mug') },
        { type: 'RecordFulfilment', data: { orderId: 'o-1', outcome: 'RESERVED' }, commandId: id(event!, 'outcome') },
      ]);
  });

  it('when a line does not fit the stock, then it reserves nothing and the order is BACKORDERED', async () => {
    await spec
      .given(product('kettle', 5), product('mug', 1))
      .when(
        created([
          { productId: 'kettle', quantity: 2 },
          { productId: 'mug', quantity: 2 },
        ]),
      )
      .then(([event]) => [
        { type: 'RecordFulfilment', data: { orderId: 'o-1', outcome: 'BACKORDERED' }, commandId: id(event!, 'outcome') },
      ]);
  });

  it('given three backorders, when a restock comes, then it fills those that fit in the order they were placed, all or nothing', async () => {
    await spec
      .given(
        product('kettle', 0),
        product('mug', 0),
        created([{ productId: 'kettle', quantity: 2 }], 'o-1'),
        created(
          [
            { productId: 'kettle', quantity: 1 },
            { productId: 'mug', quantity: 1 },
          ],
          'o-2',
        ),
        created([{ productId: 'kettle', quantity: 1 }], 'o-3'),
      )
      .when({ streamId: 'kettle', streamType: 'Product', type: 'ProductRestocked', data: { sku: 'kettle', quantity: 3, restockedAt: at } })
      .then(([restock]) => [
        // o-1 first; o-2 needs a mug too, so it keeps its place and o-3 goes first.
        {
          type: 'ReserveStock',
          data: { sku: 'kettle', orderId: 'o-1', line: `o-1@fill:${encodeToken(restock!.position)}`, quantity: 2 },
          commandId: id(restock!, 'reserve o-1 kettle'),
        },
        { type: 'RecordFulfilment', data: { orderId: 'o-1', outcome: 'RESERVED' }, commandId: id(restock!, 'outcome o-1') },
        {
          type: 'ReserveStock',
          data: { sku: 'kettle', orderId: 'o-3', line: `o-3@fill:${encodeToken(restock!.position)}`, quantity: 1 },
          commandId: id(restock!, 'reserve o-3 kettle'),
        },
        { type: 'RecordFulfilment', data: { orderId: 'o-3', outcome: 'RESERVED' }, commandId: id(restock!, 'outcome o-3') },
      ]);
  });

  it('given a reserved order and a backorder of its product, when the first is cancelled, then its stock fills the backorder', async () => {
    await spec
      .given(
        product('kettle', 2),
        created([{ productId: 'kettle', quantity: 2 }], 'o-1'),
        created([{ productId: 'kettle', quantity: 1 }], 'o-2'),
      )
      .when(order('OrderCancelled', { orderId: 'o-1', reason: 'no', cancelledAt: at, cancelledBy: null }))
      .then(([cancel]) => [
        { type: 'ReleaseStock', data: { sku: 'kettle', orderId: 'o-1' }, commandId: id(cancel!, 'release kettle') },
        { type: 'RecordFulfilment', data: { orderId: 'o-1', outcome: 'RELEASED' }, commandId: id(cancel!, 'outcome') },
        {
          type: 'ReserveStock',
          data: { sku: 'kettle', orderId: 'o-2', line: `o-2@fill:${encodeToken(cancel!.position)}`, quantity: 1 },
          commandId: id(cancel!, 'reserve o-2 kettle'),
        },
        { type: 'RecordFulfilment', data: { orderId: 'o-2', outcome: 'RESERVED' }, commandId: id(cancel!, 'outcome o-2') },
      ]);
  });

  it('given a reserved order, when a line is added that does not fit, then it gives back what it holds and waits whole', async () => {
    await spec
      .given(product('kettle', 2), created([{ productId: 'kettle', quantity: 2 }]))
      .when(order('OrderItemAdded', { orderId: 'o-1', productId: 'kettle', quantity: 1, unitPrice: '1.00', addedAt: at }))
      .then(([added]) => [
        { type: 'ReleaseStock', data: { sku: 'kettle', orderId: 'o-1' }, commandId: id(added!, 'release kettle') },
        { type: 'RecordFulfilment', data: { orderId: 'o-1', outcome: 'BACKORDERED' }, commandId: id(added!, 'outcome') },
      ]);
  });

  it('given a reserved order, when it is cancelled, then its stock is released and it is RELEASED', async () => {
    await spec
      .given(product('kettle', 5), created([{ productId: 'kettle', quantity: 2 }]))
      .when(order('OrderCancelled', { orderId: 'o-1', reason: 'no', cancelledAt: at, cancelledBy: null }))
      .then(([event]) => [
        { type: 'ReleaseStock', data: { sku: 'kettle', orderId: 'o-1' }, commandId: id(event!, 'release kettle') },
        { type: 'RecordFulfilment', data: { orderId: 'o-1', outcome: 'RELEASED' }, commandId: id(event!, 'outcome') },
      ]);
  });

  it('given its state says an order holds a product, when the order ships, then that stock is committed and it is SHIPPED', async () => {
    await spec
      .given(product('kettle', 5), created([{ productId: 'kettle', quantity: 2 }]))
      .when(order('OrderShipped', { orderId: 'o-1', shippedAt: at }))
      .then(([event]) => [
        { type: 'CommitStock', data: { sku: 'kettle', orderId: 'o-1' }, commandId: id(event!, 'commit kettle') },
        { type: 'RecordFulfilment', data: { orderId: 'o-1', outcome: 'SHIPPED' }, commandId: id(event!, 'outcome') },
      ]);
  });

  it('given an order with nothing stock-controlled (its state only), when it ships, then it sends only its outcome', async () => {
    await spec
      .given(rowsOf(processTable, [{ orderId: 'o-1', status: 'RESERVED', skus: [], needs: {} }]))
      .when(order('OrderShipped', { orderId: 'o-1', shippedAt: at }))
      .then(([event]) => [{ type: 'RecordFulfilment', data: { orderId: 'o-1', outcome: 'SHIPPED' }, commandId: id(event!, 'outcome') }]);
  });

  it('when an order comes before its product exists, then it reserves nothing: the product was not there at the event', async () => {
    await spec
      .given()
      .when(created([{ productId: 'kettle', quantity: 1 }]), product('kettle', 5))
      .then([]);
  });
});

// The Product decider, given / when / then: stock never below zero, a reservation made once per order
// line and released or committed once, admin-only commands.
import { describe, it } from 'vitest';
import { type Caller, SYSTEM_CALLER } from '../core/caller.ts';
import { ForbiddenError, NotFoundError, RuleViolationError } from '../core/errors.ts';
import { commandFor, deciderSpec, SPEC_NOW } from '../testing/index.ts';
import { type ProductCommand, productDecider } from './decider.ts';
import type { ProductEvent } from './events.ts';
import { productAggregate } from './product-aggregate.ts';

const spec = deciderSpec(productDecider);
const at = SPEC_NOW.toISOString();
const sku = 'espresso-beans';
const customer: Caller = { userId: 'alice', roles: ['customer'] };

const command = <T extends ProductCommand['type']>(type: T, input: Record<string, unknown>, caller: Caller = SYSTEM_CALLER) =>
  commandFor<ProductCommand, T>(productAggregate, type, input, { caller });

const created = (onHand = 10): ProductEvent => ({ type: 'ProductCreated', data: { sku, name: 'Espresso beans', onHand, createdAt: at } });
const reserved = (orderId: string, quantity: number, line = `${orderId}@1`): ProductEvent => ({
  type: 'StockReserved',
  data: { sku, orderId, line, quantity, reservedAt: at },
});
const reserve = (orderId: string, quantity: number, line = `${orderId}@1`) => command('ReserveStock', { sku, orderId, line, quantity });

describe('CreateProduct and RestockProduct', () => {
  it('creates a product with its stock, once per sku, for an admin only', () => {
    spec
      .given([])
      .when(command('CreateProduct', { sku, name: 'Espresso beans', onHand: 10 }))
      .then([created()]);
    spec
      .given([created()])
      .when(command('CreateProduct', { sku, name: 'Other', onHand: 1 }))
      .thenThrows(RuleViolationError, /already exists/);
    spec
      .given([])
      .when(command('CreateProduct', { sku, name: 'x', onHand: 1 }, customer))
      .thenThrows(ForbiddenError);
  });

  it('restocks a known product; an unknown sku is NOT_FOUND; stock stays within its bound', () => {
    spec
      .given([created()])
      .when(command('RestockProduct', { sku, quantity: 5 }))
      .then([{ type: 'ProductRestocked', data: { sku, quantity: 5, restockedAt: at } }]);
    spec
      .given([])
      .when(command('RestockProduct', { sku, quantity: 5 }))
      .thenThrows(NotFoundError, /espresso-beans not found/);
    spec
      .given([created(999_999)])
      .when(command('RestockProduct', { sku, quantity: 2 }))
      .thenThrows(RuleViolationError, /at most 1000000/);
    spec
      .given([created()])
      .when(command('RestockProduct', { sku, quantity: 5 }, customer))
      .thenThrows(ForbiddenError);
  });
});

describe('ReserveStock', () => {
  it('reserves what is available, and records a refusal when less is', () => {
    spec
      .given([created(10), reserved('o-1', 7)])
      .when(reserve('o-2', 3))
      .then([reserved('o-2', 3)]);
    spec
      .given([created(10), reserved('o-1', 7)])
      .when(reserve('o-2', 4))
      .then([
        { type: 'StockReservationRejected', data: { sku, orderId: 'o-2', line: 'o-2@1', quantity: 4, available: 3, rejectedAt: at } },
      ]);
  });

  it('reserves each order line once; a second line of the same order adds to its reservation', () => {
    spec
      .given([created(), reserved('o-1', 1)])
      .when(reserve('o-1', 1))
      .thenThrows(RuleViolationError, /already holds a reservation/);
    spec
      .given([created(), reserved('o-1', 1)])
      .when(reserve('o-1', 2, 'o-1@2'))
      .then([reserved('o-1', 2, 'o-1@2')]);
  });

  it('counts released and committed stock: released is available again, committed has left', () => {
    const released: ProductEvent = { type: 'StockReleased', data: { sku, orderId: 'o-1', quantity: 6, releasedAt: at } };
    const committed: ProductEvent = { type: 'StockCommitted', data: { sku, orderId: 'o-1', quantity: 6, committedAt: at } };
    spec
      .given([created(10), reserved('o-1', 6), released])
      .when(reserve('o-2', 10))
      .then([reserved('o-2', 10)]);
    spec
      .given([created(10), reserved('o-1', 6), committed])
      .when(reserve('o-2', 5))
      .then([
        { type: 'StockReservationRejected', data: { sku, orderId: 'o-2', line: 'o-2@1', quantity: 5, available: 4, rejectedAt: at } },
      ]);
  });

  it('is for the system only, and an unknown product is NOT_FOUND', () => {
    spec
      .given([created()])
      .when(command('ReserveStock', { sku, orderId: 'o', line: 'o@1', quantity: 1 }, customer))
      .thenThrows(ForbiddenError);
    spec.given([]).when(reserve('o-1', 1)).thenThrows(NotFoundError);
  });
});

describe('ReleaseStock and CommitStock', () => {
  it('release all an order holds, once', () => {
    const events = [created(10), reserved('o-1', 2), reserved('o-1', 3, 'o-1@2')];
    spec
      .given(events)
      .when(command('ReleaseStock', { sku, orderId: 'o-1' }))
      .then([{ type: 'StockReleased', data: { sku, orderId: 'o-1', quantity: 5, releasedAt: at } }]);
    const released: ProductEvent = { type: 'StockReleased', data: { sku, orderId: 'o-1', quantity: 5, releasedAt: at } };
    spec
      .given([...events, released])
      .when(command('ReleaseStock', { sku, orderId: 'o-1' }))
      .thenThrows(RuleViolationError, /holds no reservation/);
  });

  it('commit all an order holds, once', () => {
    const events = [created(10), reserved('o-1', 2)];
    spec
      .given(events)
      .when(command('CommitStock', { sku, orderId: 'o-1' }))
      .then([{ type: 'StockCommitted', data: { sku, orderId: 'o-1', quantity: 2, committedAt: at } }]);
    const committed: ProductEvent = { type: 'StockCommitted', data: { sku, orderId: 'o-1', quantity: 2, committedAt: at } };
    spec
      .given([...events, committed])
      .when(command('CommitStock', { sku, orderId: 'o-1' }))
      .thenThrows(RuleViolationError, /holds no reservation/);
  });
});

// The Order decider, given / when / then: each command's events, its rules, and who may send it.
import { describe, expect, it } from 'vitest';
import type { CommandContext } from '../core/command-input.ts';
import { ForbiddenError, NotFoundError, RuleViolationError, ValidationError } from '../core/errors.ts';
import { commandFor, deciderSpec, SPEC_NOW } from '../testing/index.ts';
import { type OrderCommand, orderDecider } from './decider.ts';
import type { OrderEvent, OrderStreamEvent } from './events.ts';
import type { FulfilmentEvent } from './fulfilment/events.ts';
import { orderAggregate } from './order-aggregate.ts';

const spec = deciderSpec(orderDecider);
const at = SPEC_NOW.toISOString();
const address = { line1: '1 Main St', city: 'Berlin', postalCode: '10115', country: 'DE' };
const createOrderInput = () => ({
  customerId: 'customer-1',
  items: [{ productId: 'p-1', quantity: 2, unitPrice: '9.99' }],
  shippingAddress: address,
});
const command = <T extends OrderCommand['type']>(type: T, input: Record<string, unknown>, context: Partial<CommandContext> = {}) =>
  commandFor<OrderCommand, T>(orderAggregate, type, input, context);
const orderId = 'order-1';

const created: OrderEvent = {
  type: 'OrderCreated',
  data: {
    orderId,
    customerId: 'customer-1',
    items: [{ productId: 'p-1', quantity: 2, unitPrice: '9.99' }],
    shippingAddress: address,
    createdAt: at,
  },
};
const itemAdded = (productId = 'p-2'): OrderEvent => ({
  type: 'OrderItemAdded',
  data: { orderId, productId, quantity: 1, unitPrice: '1.00', addedAt: at },
});
const cancelled: OrderEvent = { type: 'OrderCancelled', data: { orderId, reason: 'changed my mind', cancelledAt: at, cancelledBy: null } };
const shipped: OrderEvent = { type: 'OrderShipped', data: { orderId, shippedAt: at } };

const addItem = () => command('AddOrderItem', { orderId, productId: 'p-2', quantity: 1, unitPrice: 1 });
const cancel = () => command('CancelOrder', { orderId, reason: 'changed my mind' });
const ship = () => command('ShipOrder', { orderId });

describe('CreateOrder', () => {
  it('given nothing, creates the order with its id, lines and time from the metadata', () => {
    spec
      .given([])
      .when(command('CreateOrder', createOrderInput(), { newId: orderId }))
      .then([created]);
  });

  it('given an existing order with that id, is a rule violation', () => {
    spec
      .given([created])
      .when(command('CreateOrder', createOrderInput(), { newId: orderId }))
      .thenThrows(RuleViolationError, /already exists/);
  });

  it('given nothing, refuses an order without lines or with more than 100 as bad input (decider guard)', () => {
    const base = command('CreateOrder', createOrderInput(), { newId: orderId });
    spec
      .given([])
      .when({ ...base, data: { ...base.data, items: [] } })
      .thenThrows(ValidationError, /items/);
    const many = Array.from({ length: 101 }, (_, i) => ({ productId: `p-${i}`, quantity: 1, unitPrice: '1.00' }));
    spec
      .given([])
      .when({ ...base, data: { ...base.data, items: many } })
      .thenThrows(ValidationError, /items/);
  });
});

describe('AddOrderItem', () => {
  it('given a placed order, adds a new line', () => {
    spec.given([created]).when(addItem()).then([itemAdded()]);
  });

  it('given no order, is NOT_FOUND', () => {
    spec
      .given([])
      .when(addItem())
      .thenThrows(NotFoundError, /order-1 not found/);
  });

  it('given a cancelled order, is a rule violation', () => {
    spec
      .given([created, cancelled])
      .when(addItem())
      .thenThrows(RuleViolationError, /only while the order is PLACED.*CANCELLED/);
  });

  it('given a shipped order, is a rule violation', () => {
    spec
      .given([created, shipped])
      .when(addItem())
      .thenThrows(RuleViolationError, /SHIPPED/);
  });

  it('given an order with 100 lines, refuses the 101st', () => {
    const ninetyNine = Array.from({ length: 99 }, (_, i) => itemAdded(`p-${i}`));
    spec
      .given([created, ...ninetyNine.slice(0, 98)])
      .when(addItem())
      .then([itemAdded()]);
    spec
      .given([created, ...ninetyNine])
      .when(addItem())
      .thenThrows(RuleViolationError, /maximum of 100 lines/);
  });
});

describe('CancelOrder', () => {
  it('given a placed order, cancels it with the reason', () => {
    spec.given([created, itemAdded()]).when(cancel()).then([cancelled]);
  });

  it('given no order, is NOT_FOUND', () => {
    spec.given([]).when(cancel()).thenThrows(NotFoundError);
  });

  it('given a shipped order, is a rule violation', () => {
    spec
      .given([created, shipped])
      .when(cancel())
      .thenThrows(RuleViolationError, /Only a PLACED order can be cancelled.*SHIPPED/);
  });

  it('given a cancelled order, is a rule violation', () => {
    spec
      .given([created, cancelled])
      .when(cancel())
      .thenThrows(RuleViolationError, /CANCELLED/);
  });
});

describe('ShipOrder', () => {
  it('given a placed order, ships it', () => {
    spec.given([created]).when(ship()).then([shipped]);
  });

  it('given no order, is NOT_FOUND', () => {
    spec.given([]).when(ship()).thenThrows(NotFoundError);
  });

  it('given a cancelled order, is a rule violation', () => {
    spec
      .given([created, cancelled])
      .when(ship())
      .thenThrows(RuleViolationError, /Only a PLACED order can be shipped.*CANCELLED/);
  });

  it('given a shipped order, is a rule violation', () => {
    spec
      .given([created, shipped])
      .when(ship())
      .thenThrows(RuleViolationError, /SHIPPED/);
  });

  const outcome = (type: FulfilmentEvent['type']): FulfilmentEvent => ({ type, data: { orderId, at } });
  const shipAfter = (reactions: 'settled' | 'pending') => {
    const command = ship();
    return { ...command, metadata: { ...command.metadata, reactions } };
  };

  it('given its fulfilment RESERVED, or nothing recorded once the process has handled it (nothing stock-controlled), ships it', () => {
    spec
      .given([created, outcome('FulfilmentReserved')])
      .when(shipAfter('settled'))
      .then([shipped]);
    spec.given([created]).when(shipAfter('settled')).then([shipped]);
    // A backorder filled since is RESERVED again.
    spec
      .given([created, outcome('FulfilmentBackordered'), outcome('FulfilmentReserved')])
      .when(shipAfter('settled'))
      .then([shipped]);
  });

  it('given its fulfilment BACKORDERED, or not handled by the process yet (PENDING), refuses, naming the state', () => {
    spec
      .given([created, outcome('FulfilmentBackordered')])
      .when(shipAfter('settled'))
      .thenThrows(RuleViolationError, /cannot be shipped: its fulfilment is BACKORDERED/);
    spec
      .given([created])
      .when(shipAfter('pending'))
      .thenThrows(RuleViolationError, /its fulfilment is PENDING/);
    // What the stream says so far may not account for the order's last event yet.
    spec
      .given([created, outcome('FulfilmentReserved')])
      .when(shipAfter('pending'))
      .thenThrows(RuleViolationError, /its fulfilment is PENDING/);
  });
});

describe('who may command an order', () => {
  const alice = { userId: 'customer-1', roles: ['customer'] as const };
  const bob = { userId: 'customer-2', roles: ['customer'] as const };
  const admin = { userId: 'ops', roles: ['admin'] as const };

  it('a customer creates orders only for itself', () => {
    spec
      .given([])
      .when(command('CreateOrder', createOrderInput(), { newId: orderId, caller: alice }))
      .then([created]);
    spec
      .given([])
      .when(command('CreateOrder', createOrderInput(), { newId: orderId, caller: bob }))
      .thenThrows(ForbiddenError);
  });

  it('a customer changes only its own orders; an admin any', () => {
    for (const [type, input] of [
      ['AddOrderItem', { orderId, productId: 'p-2', quantity: 1, unitPrice: 1 }],
      ['CancelOrder', { orderId, reason: 'changed my mind' }],
      ['ShipOrder', { orderId }],
    ] as const) {
      spec
        .given([created])
        .when(command(type, input, { caller: bob }))
        .thenThrows(ForbiddenError, /order-1/);
      expect(() =>
        orderDecider.decide(command(type, input, { caller: alice }), orderDecider.evolve(orderDecider.initialState(), created)),
      ).not.toThrow();
      expect(() =>
        orderDecider.decide(command(type, input, { caller: admin }), orderDecider.evolve(orderDecider.initialState(), created)),
      ).not.toThrow();
    }
  });

  it('an unknown order is NOT_FOUND whoever asks', () => {
    spec
      .given([])
      .when(command('ShipOrder', { orderId }, { caller: bob }))
      .thenThrows(NotFoundError);
  });
});

describe('MarkOrderPaid', () => {
  const markPaid = (paymentId = 'pay-1', amount: unknown = '19.98') => command('MarkOrderPaid', { paymentId, orderId, amount }, {});
  const paid = (paymentId = 'pay-1', amount = '19.98'): OrderStreamEvent => ({
    type: 'OrderPaid',
    data: { orderId, paymentId, amount, paidAt: at },
  });

  it('given an order, pays it when the amount is its total, exactly', () => {
    spec.given([created]).when(markPaid('pay-1', 19.98)).then([paid()]);
  });

  it('given lines added, the total is theirs too (exact decimals)', () => {
    spec
      .given([created, itemAdded()])
      .when(markPaid('pay-1', '20.98'))
      .then([paid('pay-1', '20.98')]);
    spec
      .given([created, itemAdded()])
      .when(markPaid('pay-1', '19.98'))
      .thenThrows(RuleViolationError, /19.98 does not match the total 20.98/);
  });

  it('given a cancelled or shipped order, still records the payment (the money was taken)', () => {
    spec.given([created, cancelled]).when(markPaid()).then([paid()]);
    spec.given([created, shipped]).when(markPaid()).then([paid()]);
  });

  it('given a paid order, refuses a second payment', () => {
    spec
      .given([created, paid()])
      .when(markPaid('pay-2'))
      .thenThrows(RuleViolationError, /already paid \(payment pay-1\)/);
  });

  it('given nothing, is not found', () => {
    spec
      .given([])
      .when(markPaid())
      .thenThrows(NotFoundError, /Order order-1 not found/);
  });

  it('refuses an amount that is not Money as bad input', () => {
    expect(() => markPaid('pay-1', '1.234')).toThrow(ValidationError);
  });
});

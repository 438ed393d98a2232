import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/core/errors.ts';
import { command, createOrderInput } from '../support/orders.ts';

function issuesOf(run: () => unknown) {
  try {
    run();
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError);
    return (e as ValidationError).issues;
  }
  throw new Error('expected a ValidationError');
}

describe('command input limits (BAD_USER_INPUT)', () => {
  it('needs 1 to 100 items', () => {
    expect(issuesOf(() => command('CreateOrder', createOrderInput({ items: [] })))[0]!.path).toEqual(['input', 'items']);
    const many = Array.from({ length: 101 }, (_, i) => ({ productId: `p${i}`, quantity: 1, unitPrice: '1' }));
    expect(issuesOf(() => command('CreateOrder', createOrderInput({ items: many })))[0]!.message).toMatch(/at most 100/);
  });

  it('needs a whole quantity from 1 to 10,000', () => {
    for (const quantity of [0, -1, 10_001, 1.5]) {
      const issues = issuesOf(() => command('AddOrderItem', { orderId: 'o', productId: 'p', quantity, unitPrice: '1' }));
      expect(issues[0]!.path).toEqual(['input', 'quantity']);
    }
    expect(command('AddOrderItem', { orderId: 'o', productId: 'p', quantity: 10_000, unitPrice: '1' }).data.quantity).toBe(10_000);
  });

  it('limits ids to 100 characters, reasons to 500, address fields to 200, and refuses NUL anywhere', () => {
    expect(issuesOf(() => command('ShipOrder', { orderId: 'x'.repeat(101) }))[0]!.path).toEqual(['input', 'orderId']);
    expect(issuesOf(() => command('CancelOrder', { orderId: 'o', reason: 'r'.repeat(501) }))[0]!.path).toEqual(['input', 'reason']);
    const longCity = { line1: 'a', city: 'c'.repeat(201), postalCode: '1', country: 'DE' };
    expect(issuesOf(() => command('CreateOrder', createOrderInput({ shippingAddress: longCity })))[0]!.path).toEqual([
      'input',
      'shippingAddress',
      'city',
    ]);
    expect(issuesOf(() => command('CreateOrder', createOrderInput({ customerId: 'a\u0000b' })))[0]!.message).toMatch(/NUL/);
    expect(issuesOf(() => command('CancelOrder', { orderId: 'o', reason: 'x\u0000' }))[0]!.message).toMatch(/NUL/);
  });

  it('needs an ISO 3166-1 alpha-2 country', () => {
    for (const country of ['XX', 'de', 'DEU', '']) {
      const shippingAddress = { line1: 'a', city: 'c', postalCode: '1', country };
      expect(issuesOf(() => command('CreateOrder', createOrderInput({ shippingAddress })))[0]!.path).toEqual([
        'input',
        'shippingAddress',
        'country',
      ]);
    }
  });

  it('reports every problem at once', () => {
    const issues = issuesOf(() => command('CreateOrder', { customerId: '', items: [{ productId: 'p', quantity: 0, unitPrice: 'abc' }] }));
    expect(issues.map((i) => i.path.join('.'))).toEqual(
      expect.arrayContaining(['input.customerId', 'input.items.0.quantity', 'input.items.0.unitPrice', 'input.shippingAddress']),
    );
  });

  it('moves commandId and expectedVersion to the metadata', () => {
    const cmd = command('ShipOrder', { orderId: 'o', commandId: 'c-1', expectedVersion: 3 });
    expect(cmd.data).toEqual({ orderId: 'o' });
    expect(cmd.metadata).toMatchObject({ commandId: 'c-1', expectedVersion: 3 });
  });
});

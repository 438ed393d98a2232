import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/core/errors.ts';
import { centsOf, formatMoney, parseMoney, sumMoney, lineTotal } from '../../src/core/money.ts';
import { command, createOrderInput } from '../support/orders.ts';

describe('Money', () => {
  it('sums exactly: 0.10 + 0.20 + 0.60 is "0.90"', () => {
    expect(sumMoney(['0.10', '0.20', '0.60'])).toBe('0.90');
    expect(sumMoney(['0.10', '0.20'])).toBe('0.30');
    expect(0.1 + 0.2).not.toBe(0.3); // why floats are not used
  });

  it('normalises input to two fraction digits, from strings and numbers', () => {
    const cases: [unknown, string][] = [
      ['0', '0.00'],
      ['1', '1.00'],
      ['1.5', '1.50'],
      ['19.99', '19.99'],
      [0.1, '0.10'],
      [42, '42.00'],
      ['999999999999.99', '999999999999.99'],
    ];
    for (const [input, expected] of cases) {
      const r = parseMoney(input);
      expect(r.ok && formatMoney(r.cents)).toBe(expected);
    }
  });

  it('refuses negative, over-precise, non-numeric and too large amounts with a message', () => {
    for (const input of ['1.234', -1, '-1', 'abc', '', '1e3', 0.30000000000000004, '1000000000000', 1e12, Infinity, NaN, null, {}]) {
      const r = parseMoney(input);
      expect(r.ok, `input ${String(input)}`).toBe(false);
    }
  });

  it('reads and writes amounts exactly on both sides of 2^53 cents, negative ones too', () => {
    const safe = BigInt(Number.MAX_SAFE_INTEGER); // 90071992547409.91
    for (const [cents, text] of [
      [0n, '0.00'],
      [5n, '0.05'],
      [-5n, '-0.05'],
      [-100n, '-1.00'],
      [safe, '90071992547409.91'],
      [safe + 1n, '90071992547409.92'],
      [-safe - 1n, '-90071992547409.92'],
      [safe + 2n, '90071992547409.93'],
      [9999999999999999n, '99999999999999.99'],
      [10n ** 30n + 7n, '10000000000000000000000000000.07'],
    ] as const) {
      expect(formatMoney(cents)).toBe(text);
      if (cents >= 0n) expect(centsOf(text)).toBe(cents);
    }
    expect(centsOf('9999999999999.9')).toBe(999999999999990n);
    expect(centsOf('12.5')).toBe(1250n);
    expect(() => centsOf('1.5.0')).toThrow(/not a decimal/);
  });

  it('multiplies a line without rounding', () => {
    expect(lineTotal(3, '0.10')).toBe('0.30');
    expect(lineTotal(10_000, '999999999999.99')).toBe('9999999999999900.00');
  });

  it('three items at 0.10, 0.20 and 0.60 total "0.90"', () => {
    const cmd = command(
      'CreateOrder',
      createOrderInput({
        items: [
          { productId: 'a', quantity: 1, unitPrice: '0.10' },
          { productId: 'b', quantity: 1, unitPrice: 0.2 },
          { productId: 'c', quantity: 1, unitPrice: '0.60' },
        ],
      }),
    );
    expect(sumMoney(cmd.data.items.map((i) => lineTotal(i.quantity, i.unitPrice)))).toBe('0.90');
  });

  it('refuses "1.234", -1 and "abc" as BAD_USER_INPUT with the field path', () => {
    for (const [n, bad] of [['1.234'], [-1], ['abc']].entries()) {
      const items = [
        { productId: 'a', quantity: 1, unitPrice: '1.00' },
        { productId: 'b', quantity: 1, unitPrice: bad[0] },
      ];
      let error: unknown;
      try {
        command('CreateOrder', createOrderInput({ items }));
      } catch (e) {
        error = e;
      }
      expect(error, `case ${n}`).toBeInstanceOf(ValidationError);
      const issues = (error as ValidationError).issues;
      expect(issues).toHaveLength(1);
      expect(issues[0]!.path).toEqual(['input', 'items', 1, 'unitPrice']);
      expect((error as ValidationError).code).toBe('BAD_USER_INPUT');
    }
  });
});

import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/core/errors.ts';
import { comparePositions, decodeToken, encodeToken } from '../../src/core/position.ts';

describe('consistency tokens', () => {
  it('round-trip positions beyond 2^53 exactly', () => {
    const p = { tx: 2n ** 63n + 5n, pos: 2n ** 53n + 1n };
    expect(decodeToken(encodeToken(p))).toEqual(p);
    const max = { tx: 2n ** 64n - 1n, pos: 2n ** 63n - 1n };
    expect(decodeToken(encodeToken(max))).toEqual(max);
  });

  it('order by transaction id first, then position', () => {
    expect(comparePositions({ tx: 5n, pos: 100n }, { tx: 6n, pos: 1n })).toBe(-1);
    expect(comparePositions({ tx: 6n, pos: 2n }, { tx: 6n, pos: 1n })).toBe(1);
    expect(comparePositions({ tx: 6n, pos: 1n }, { tx: 6n, pos: 1n })).toBe(0);
  });

  it('refuse anything malformed as BAD_USER_INPUT', () => {
    const overflow = `c1.${(2n ** 64n).toString(36)}.1`;
    for (const bad of ['', 'abc', 'c1.1', 'c1.1.2.3', 'c1.-1.2', 'c2.1.2', 'c1.1.Z', overflow, `c1.1.${(2n ** 63n).toString(36)}`]) {
      expect(() => decodeToken(bad), bad).toThrow(ValidationError);
    }
  });
});

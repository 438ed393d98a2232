// Money as exact decimals: an amount is a bigint count of cents, so sums never touch floating point.
// On the wire and in events it is a decimal string with exactly two fraction digits ("19.98").

export type Cents = bigint;

/** Exclusive upper bound of one amount given as input: 1e12 (in cents, 1e14). */
export const MAX_INPUT_CENTS: Cents = 100_000_000_000_000n;

const DECIMAL = /^(\d+)(?:\.(\d{1,2}))?$/;

export type MoneyParseResult = { ok: true; cents: Cents } | { ok: false; message: string };

/**
 * Parses a Money input: a string or a number, >= 0, at most two fraction digits, < 1e12.
 * A number is read through its shortest decimal form, so 0.1 is 0.10 and 0.30000000000000004 is refused.
 */
export function parseMoney(input: unknown): MoneyParseResult {
  let text: string;
  if (typeof input === 'number') {
    if (!Number.isFinite(input)) return { ok: false, message: 'must be a finite amount' };
    text = String(input);
  } else if (typeof input === 'string') {
    text = input.trim();
  } else {
    return { ok: false, message: 'must be a decimal string or a number' };
  }
  if (text.startsWith('-')) return { ok: false, message: 'must not be negative' };
  const m = DECIMAL.exec(text);
  if (!m) {
    return /^\d*\.\d{3,}$/.test(text)
      ? { ok: false, message: 'must have at most 2 fraction digits' }
      : { ok: false, message: 'must be a decimal amount such as "19.99"' };
  }
  const cents = centsOf(text);
  if (cents >= MAX_INPUT_CENTS) return { ok: false, message: 'must be less than 1000000000000' };
  return { ok: true, cents };
}

// Projections read and write amounts for every event, so the usual ones take a shorter way: cents
// below 2^53 are exact in a double, and converting one number is cheaper than bigint arithmetic on
// parsed strings. Larger amounts take the bigint way.
const SAFE_CENTS = BigInt(Number.MAX_SAFE_INTEGER);
/** Integer digits whose cents (with two fraction digits) are all below 2^53. */
const SAFE_UNIT_DIGITS = 13;

/** Reads a stored amount (always written by formatMoney, so unbounded); throws on anything else. */
export function centsOf(amount: string): Cents {
  const m = DECIMAL.exec(amount);
  if (!m) throw new Error(`stored amount ${JSON.stringify(amount)} is not a decimal`);
  const units = m[1]!;
  const fraction = (m[2] ?? '').padEnd(2, '0');
  if (units.length <= SAFE_UNIT_DIGITS) return BigInt(Number(units) * 100 + Number(fraction));
  return BigInt(units) * 100n + BigInt(fraction);
}

export function formatMoney(cents: Cents): string {
  if (cents <= SAFE_CENTS && cents >= -SAFE_CENTS) {
    const n = Number(cents);
    const abs = n < 0 ? -n : n;
    // Both exact: % on integers, and dividing a multiple of 100 by 100.
    const fraction = abs % 100;
    return `${n < 0 ? '-' : ''}${(abs - fraction) / 100}.${fraction < 10 ? '0' : ''}${fraction}`;
  }
  const negative = cents < 0n;
  const abs = negative ? -cents : cents;
  const units = abs / 100n;
  const fraction = (abs % 100n).toString().padStart(2, '0');
  return `${negative ? '-' : ''}${units}.${fraction}`;
}

export function lineTotal(quantity: number, unitPrice: string): string {
  return formatMoney(BigInt(quantity) * centsOf(unitPrice));
}

export function sumMoney(amounts: Iterable<string>): string {
  let total = 0n;
  for (const a of amounts) total += centsOf(a);
  return formatMoney(total);
}

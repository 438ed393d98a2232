// Input fields shared by the order commands, with the limits of API.md.
import { z } from 'zod';
import { parseMoney, formatMoney } from '../money.ts';
import { ISO_COUNTRY_CODES } from './countries.ts';

const noNul = (s: string) => !s.includes('\u0000');
const NUL_MESSAGE = 'must not contain NUL characters';

export const text = (max: number) =>
  z
    .string()
    .max(max, `must be at most ${max} characters`)
    .refine(noNul, NUL_MESSAGE);

export const requiredText = (max: number) =>
  z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    .refine(noNul, NUL_MESSAGE);

export const id = requiredText(100);

export const MAX_QUANTITY = 10_000;
export const quantity = z
  .number()
  .int('must be a whole number')
  .min(1, 'must be at least 1')
  .max(MAX_QUANTITY, `must be at most ${MAX_QUANTITY}`);

/** Money input (string or number) normalised to its two-digit string form. */
export const money = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const parsed = parseMoney(value);
  if (!parsed.ok) {
    ctx.addIssue({ code: 'custom', message: parsed.message });
    return z.NEVER;
  }
  return formatMoney(parsed.cents);
});

export const address = z.object({
  line1: requiredText(200),
  city: requiredText(200),
  postalCode: requiredText(200),
  country: z
    .string()
    .refine((c) => ISO_COUNTRY_CODES.has(c), 'must be an ISO 3166-1 alpha-2 country code such as "DE"'),
});

export const orderLine = z.object({ productId: id, quantity, unitPrice: money });

export const expectedVersion = z.number().int('must be a whole number').min(0, 'must not be negative').optional();

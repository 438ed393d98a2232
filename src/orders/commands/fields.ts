// Input fields of the order commands: quantities, money, addresses and order lines.
import { z } from 'zod';
import { id, requiredText, wholeNumber } from '../../core/input-fields.ts';
import { formatMoney, parseMoney } from '../../core/money.ts';
import { ISO_COUNTRY_CODES } from './countries.ts';

export const MAX_QUANTITY = 10_000;
export const quantity = wholeNumber(1, MAX_QUANTITY);

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
  country: z.string().refine((c) => ISO_COUNTRY_CODES.has(c), 'must be an ISO 3166-1 alpha-2 country code such as "DE"'),
});

export const orderLine = z.object({ productId: id, quantity, unitPrice: money });

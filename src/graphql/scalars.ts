// The custom scalars: ConsistencyToken (opaque), DateTime (ISO-8601 UTC), Money (exact decimal). The
// builder registers them; a bad value is BAD_USER_INPUT.
import { Kind, type ValueNode } from 'graphql';
import { formatMoney, parseMoney } from '../core/money.ts';
import { decodeToken, type Position } from '../core/position.ts';
import { inputError } from './errors.ts';

const literal = (node: ValueNode): unknown => {
  switch (node.kind) {
    case Kind.STRING:
    case Kind.INT:
    case Kind.FLOAT:
      // The literal's own text: 19.99 stays "19.99", never a binary float.
      return node.value;
    default:
      return undefined;
  }
};

function parseToken(value: unknown): Position {
  if (typeof value !== 'string') throw inputError('A consistency token is a string returned by a mutation');
  try {
    return decodeToken(value);
  } catch {
    throw inputError('is not a consistency token returned by this service');
  }
}

export const consistencyTokenScalar = {
  description: 'Opaque: returned by mutations, passed back as `after:` or `until:`. Clients never parse it.',
  serialize: (value: unknown) => String(value),
  parseValue: parseToken,
  parseLiteral: (node: ValueNode) => parseToken(node.kind === Kind.STRING ? node.value : undefined),
};

const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/;

function parseDateTime(value: unknown): Date {
  if (typeof value === 'string' && ISO_UTC.test(value)) {
    const date = new Date(value);
    if (!Number.isNaN(date.getTime())) return date;
  }
  throw inputError('must be an ISO-8601 UTC date-time such as "2026-01-31T12:00:00Z"');
}

export const dateTimeScalar = {
  description: 'ISO-8601 date-time in UTC, e.g. "2026-01-31T12:00:00.000Z".',
  serialize: (value: unknown) => (value instanceof Date ? value.toISOString() : String(value)),
  parseValue: parseDateTime,
  parseLiteral: (node: ValueNode) => parseDateTime(literal(node)),
};

function parseMoneyValue(value: unknown): string {
  const parsed = parseMoney(value);
  if (!parsed.ok) throw inputError(parsed.message);
  return formatMoney(parsed.cents);
}

export const moneyScalar = {
  description:
    'Exact decimal amount. Output: a string with exactly two fraction digits ("19.98"). Input: a string or number, >= 0, at most two fraction digits, < 1e12.',
  serialize: (value: unknown) => String(value),
  parseValue: parseMoneyValue,
  parseLiteral: (node: ValueNode) => parseMoneyValue(literal(node)),
};

// Read-your-writes for resolvers: the request's session token (extensions.consistency.after), a query
// context that waits for a field's `after` (or else the session's), the token each object was read at
// (a field of it that reads another projection reads at least that fresh), and the token the response
// gives back, covering the session's and every command the operation ran.
import type { CommandResult } from '../core/command-handler.ts';
import type { Page } from '../core/input-fields.ts';
import { decodeToken, maxPosition, type Position } from '../core/position.ts';
import type { QueryContext } from '../core/query-context.ts';
import type { GraphQLContext, RequestConsistency } from './context.ts';
import { inputError } from './errors.ts';

const SESSION_PATH = ['extensions', 'consistency', 'after'];

/** The request's consistency state from its `extensions`; a malformed token is BAD_USER_INPUT. */
export function requestConsistency(extensions: unknown): RequestConsistency {
  const after = (extensions as { consistency?: { after?: unknown } } | null | undefined)?.consistency?.after;
  if (after === undefined || after === null) return { stale: false, readAt: new WeakMap() };
  if (typeof after !== 'string')
    throw inputError('extensions.consistency.after must be a consistency token (a string) returned by this service');
  const session = decodeToken(after, SESSION_PATH);
  return { session, token: session, stale: false, readAt: new WeakMap() };
}

/** Runs `read` with a query context for `after` (else the session's); a timed-out wait marks the whole response stale. */
export async function readAfter<T>(
  ctx: GraphQLContext,
  after: Position | null | undefined,
  read: (q: QueryContext) => Promise<T>,
): Promise<T> {
  const token = after ?? ctx.consistency.session;
  // Without a token nothing waits, so nothing can be stale: the read alone (the common case, kept lean).
  if (!token) return read({ caller: ctx.caller });
  const consistency = { after: token, stale: false, signal: ctx.signal, path: after ? ['after'] : SESSION_PATH };
  try {
    const value = await read({ caller: ctx.caller, consistency });
    remember(ctx, value, token);
    return value;
  } finally {
    if (consistency.stale) ctx.consistency.stale = true;
  }
}

/** The token `value` (an object a resolver returned) was read at: its own, or the session's. */
export const readAt = (ctx: GraphQLContext, value: object): Position | undefined =>
  ctx.consistency.readAt.get(value) ?? ctx.consistency.session;

/** A command the operation ran: the response's token covers it. */
export function ran(ctx: GraphQLContext, result: CommandResult): CommandResult {
  const { token } = ctx.consistency;
  ctx.consistency.token = token ? maxPosition(token, result.position) : result.position;
  return result;
}

function remember(ctx: GraphQLContext, value: unknown, at: Position) {
  if (typeof value !== 'object' || value === null) return;
  ctx.consistency.readAt.set(value, at);
  const items = (value as Partial<Page<unknown>>).items;
  if (Array.isArray(items)) for (const item of items) if (typeof item === 'object' && item !== null) ctx.consistency.readAt.set(item, at);
}

// searchOrders(query): orders whose id, customer id, a product id or city contains the query, case
// insensitive; a customer finds only its own. The trigram index orders_search_trgm_idx serves the
// substring match.
import { sql } from 'drizzle-orm';
import { z } from 'zod';
import { isAdmin, type Caller } from '../../core/caller.ts';
import { parseWith } from '../../core/validation.ts';
import type { Executor } from '../../infra/db/executor.ts';
import { text } from '../commands/fields.ts';
import { ORDER_VIEW_COLUMNS, type OrderView } from '../read-model.ts';
import { orderStatus, paging, toPage, type Page } from './params.ts';

export const searchOrdersParams = z.object({
  query: text(200),
  status: orderStatus.nullish(),
  sortBy: z.enum(['CREATED_AT', 'TOTAL_AMOUNT']).default('CREATED_AT'),
  sortOrder: z.enum(['ASC', 'DESC']).default('DESC'),
  ...paging,
});
export type SearchOrdersParams = z.input<typeof searchOrdersParams>;

const likePattern = (query: string) => `%${query.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

export function searchOrdersQuery(db: Executor) {
  return async (params: SearchOrdersParams, caller: Caller): Promise<Page<OrderView>> => {
    const { query, status, sortBy, sortOrder, page, pageSize } = parseWith(searchOrdersParams, params);
    // A customer searches only its own orders; only an admin searches everyone's.
    const ownOnly = isAdmin(caller) ? null : (caller.userId ?? '');
    const conditions = [];
    const q = query.trim();
    if (q) conditions.push(sql`search_text like ${likePattern(q)}`);
    if (status) conditions.push(sql`status = ${status}`);
    if (ownOnly !== null) conditions.push(sql`customer_id = ${ownOnly}`);
    const where = conditions.length > 0 ? sql`where ${sql.join(conditions, sql` and `)}` : sql``;
    const column = sortBy === 'TOTAL_AMOUNT' ? sql.raw('total_amount') : sql.raw('created_at');
    const direction = sql.raw(sortOrder === 'ASC' ? 'asc' : 'desc');
    const [items, [count]] = await Promise.all([
      db.rows<OrderView>(sql`select ${ORDER_VIEW_COLUMNS} from orders ${where}
        order by ${column} ${direction}, id ${direction} limit ${pageSize} offset ${(page - 1) * pageSize}`),
      db.rows<{ n: number }>(sql`select count(*)::int as n from orders ${where}`),
    ]);
    return toPage(items, count?.n ?? 0, page, pageSize);
  };
}

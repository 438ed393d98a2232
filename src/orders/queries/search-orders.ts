// searchOrders(query): orders whose id, customer id, a product id or city contains the query, case
// insensitive; a customer finds only its own. The trigram index orders_search_trgm_idx serves the match.
import { sql } from 'drizzle-orm';
import { z } from 'zod';
import { isAdmin } from '../../core/caller.ts';
import { paging, text, toPage, type Page } from '../../core/input-fields.ts';
import type { QueryDefinition } from '../../core/module.ts';
import { parseWith } from '../../core/validation.ts';
import { ORDERS_PROJECTION } from '../projections/orders.ts';
import { ORDER_VIEW_COLUMNS, type OrderView } from '../read-model.ts';
import { orderStatus } from './order-status.ts';

export const searchOrdersParams = z.object({
  query: text(200),
  status: orderStatus.nullish(),
  sortBy: z.enum(['CREATED_AT', 'TOTAL_AMOUNT']).default('CREATED_AT'),
  sortOrder: z.enum(['ASC', 'DESC']).default('DESC'),
  ...paging,
});
export type SearchOrdersParams = z.input<typeof searchOrdersParams>;

const likePattern = (query: string) => `%${query.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

export const searchOrdersQuery: QueryDefinition<SearchOrdersParams, Page<OrderView>> = {
  projections: [ORDERS_PROJECTION],
  create: ({ db }) =>
    async function searchOrders(params, { caller }) {
      const { query, status, sortBy, sortOrder, page, pageSize } = parseWith(searchOrdersParams, params);
      const conditions = [];
      const q = query.trim();
      if (q) conditions.push(sql`search_text like ${likePattern(q)}`);
      if (status) conditions.push(sql`status = ${status}`);
      // A customer searches only its own orders; only an admin searches everyone's.
      if (!isAdmin(caller)) conditions.push(sql`customer_id = ${caller.userId ?? ''}`);
      const where = conditions.length > 0 ? sql`where ${sql.join(conditions, sql` and `)}` : sql``;
      const column = sql.raw(sortBy === 'TOTAL_AMOUNT' ? 'total_amount' : 'created_at');
      const direction = sql.raw(sortOrder === 'ASC' ? 'asc' : 'desc');
      const [items, [count]] = await Promise.all([
        db.rows<OrderView>(sql`select ${ORDER_VIEW_COLUMNS} from orders ${where}
          order by ${column} ${direction}, id ${direction} limit ${pageSize} offset ${(page - 1) * pageSize}`),
        db.rows<{ n: number }>(sql`select count(*)::int as n from orders ${where}`),
      ]);
      return toPage(items, count?.n ?? 0, page, pageSize);
    },
};

// order(id): one order from the `orders` read model, or null. Lookups that arrive together (concurrent
// requests) share one query.
import { sql } from 'drizzle-orm';
import { z } from 'zod';
import { createBatchLoader } from '../../core/batch-loader.ts';
import { assertCustomerAccess, type Caller } from '../../core/caller.ts';
import { parseWith } from '../../core/validation.ts';
import { textArray, type Executor } from '../../infra/db/executor.ts';
import { ORDER_VIEW_COLUMNS, type OrderView } from '../read-model.ts';
import { id } from './params.ts';

export const orderParams = z.object({ id });
export type OrderParams = z.input<typeof orderParams>;

export function orderQuery(db: Executor) {
  const load = createBatchLoader(async (ids: string[]) => {
    const rows = await db.rows<OrderView>(sql`select ${ORDER_VIEW_COLUMNS} from orders where id = any(${textArray(ids)})`);
    return new Map(rows.map((row) => [row.id, row]));
  });
  return async (params: OrderParams, caller: Caller): Promise<OrderView | null> => {
    const { id: orderId } = parseWith(orderParams, params);
    const row = await load(orderId);
    if (row) assertCustomerAccess(caller, row.customerId, `order ${orderId}`);
    return row ?? null;
  };
}

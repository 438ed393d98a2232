// order(id): one order from the `orders` read model, or null. Lookups that arrive together (concurrent
// requests) share one query.
import { z } from 'zod';
import { createBatchLoader } from '../../core/batch-loader.ts';
import { assertCustomerAccess, type Caller } from '../../core/caller.ts';
import { parseWith } from '../../core/validation.ts';
import type { Executor } from '../../infra/db/executor.ts';
import { ORDER_VIEW_COLUMN_LIST, type OrderView } from '../read-model.ts';
import { id } from './params.ts';

export const orderParams = z.object({ id });
export type OrderParams = z.input<typeof orderParams>;

/** The hot read path's text, written once: $1 is the ids as one JSON array (textArray's form). */
const ORDERS_BY_ID = `select ${ORDER_VIEW_COLUMN_LIST} from orders where id = any(array(select jsonb_array_elements_text($1::jsonb)))`;

export function orderQuery(db: Executor) {
  const load = createBatchLoader(async (ids: string[]) => {
    const rows = await db.query<OrderView>(ORDERS_BY_ID, [JSON.stringify(ids)]);
    return new Map(rows.map((row) => [row.id, row]));
  });
  return async (params: OrderParams, caller: Caller): Promise<OrderView | null> => {
    const { id: orderId } = parseWith(orderParams, params);
    const row = await load(orderId);
    if (row) assertCustomerAccess(caller, row.customerId, `order ${orderId}`);
    return row ?? null;
  };
}

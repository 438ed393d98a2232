// order(id): one order from the `orders` read model, or null.
import { sql } from 'drizzle-orm';
import { z } from 'zod';
import { assertCustomerAccess, type Caller } from '../../core/caller.ts';
import { parseWith } from '../../core/validation.ts';
import type { Executor } from '../../infra/db/executor.ts';
import { ORDER_VIEW_COLUMNS, type OrderView } from '../read-model.ts';
import { id } from './params.ts';

export const orderParams = z.object({ id });
export type OrderParams = z.input<typeof orderParams>;

export function orderQuery(db: Executor) {
  return async (params: OrderParams, caller: Caller): Promise<OrderView | null> => {
    const { id: orderId } = parseWith(orderParams, params);
    const [row] = await db.rows<OrderView>(sql`select ${ORDER_VIEW_COLUMNS} from orders where id = ${orderId}`);
    if (row) assertCustomerAccess(caller, row.customerId, `order ${orderId}`);
    return row ?? null;
  };
}

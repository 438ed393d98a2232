// customerOrders(customerId, status): a customer's orders, newest first, a page at a time
// (served by orders_customer_created_idx / orders_customer_status_created_idx).
import { sql } from 'drizzle-orm';
import { z } from 'zod';
import { assertCustomerAccess, type Caller } from '../../core/caller.ts';
import { parseWith } from '../../core/validation.ts';
import type { Executor } from '../../infra/db/executor.ts';
import { ORDER_VIEW_COLUMNS, type OrderView } from '../read-model.ts';
import { id, orderStatus, paging, toPage, type Page } from './params.ts';

export const customerOrdersParams = z.object({ customerId: id, status: orderStatus.nullish(), ...paging });
export type CustomerOrdersParams = z.input<typeof customerOrdersParams>;

export function customerOrdersQuery(db: Executor) {
  return async (params: CustomerOrdersParams, caller: Caller): Promise<Page<OrderView>> => {
    const { customerId, status, page, pageSize } = parseWith(customerOrdersParams, params);
    assertCustomerAccess(caller, customerId, `the orders of customer ${customerId}`);
    const where = status ? sql`customer_id = ${customerId} and status = ${status}` : sql`customer_id = ${customerId}`;
    const [items, [count]] = await Promise.all([
      db.rows<OrderView>(sql`select ${ORDER_VIEW_COLUMNS} from orders where ${where}
        order by created_at desc, id desc limit ${pageSize} offset ${(page - 1) * pageSize}`),
      db.rows<{ n: number }>(sql`select count(*)::int as n from orders where ${where}`),
    ]);
    return toPage(items, count?.n ?? 0, page, pageSize);
  };
}

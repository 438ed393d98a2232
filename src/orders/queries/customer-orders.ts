// customerOrders(customerId, status): a customer's orders, newest first, a page at a time
// (served by orders_customer_created_idx and orders_customer_status_created_idx).
import { sql } from 'drizzle-orm';
import { z } from 'zod';
import { assertCustomerAccess } from '../../core/caller.ts';
import { id, paging, toPage, type Page } from '../../core/input-fields.ts';
import type { QueryDefinition } from '../../core/module.ts';
import { parseWith } from '../../core/validation.ts';
import { ORDERS_PROJECTION } from '../projections/orders.ts';
import { ORDER_VIEW_COLUMNS, type OrderView } from '../read-model.ts';
import { orderStatus } from './order-status.ts';

export const customerOrdersParams = z.object({ customerId: id, status: orderStatus.nullish(), ...paging });
export type CustomerOrdersParams = z.input<typeof customerOrdersParams>;

export const customerOrdersQuery: QueryDefinition<CustomerOrdersParams, Page<OrderView>> = {
  projections: [ORDERS_PROJECTION],
  create: ({ db }) =>
    async function customerOrders(params, { caller }) {
      const { customerId, status, page, pageSize } = parseWith(customerOrdersParams, params);
      assertCustomerAccess(caller, customerId, `the orders of customer ${customerId}`);
      const where = status ? sql`customer_id = ${customerId} and status = ${status}` : sql`customer_id = ${customerId}`;
      const [items, [count]] = await Promise.all([
        db.rows<OrderView>(sql`select ${ORDER_VIEW_COLUMNS} from orders where ${where}
          order by created_at desc, id desc limit ${pageSize} offset ${(page - 1) * pageSize}`),
        db.rows<{ n: number }>(sql`select count(*)::int as n from orders where ${where}`),
      ]);
      return toPage(items, count?.n ?? 0, page, pageSize);
    },
};

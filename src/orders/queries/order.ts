// order(id): one order from the `orders` read model, or null. Lookups that arrive together (concurrent
// requests) share one query.
import { z } from 'zod';
import { assertCustomerAccess } from '../../core/caller.ts';
import { id } from '../../core/input-fields.ts';
import { createMicroBatcher } from '../../core/micro-batch.ts';
import type { QueryDefinition } from '../../core/module.ts';
import { parseWith } from '../../core/validation.ts';
import { ORDERS_PROJECTION } from '../projections/orders.ts';
import { ORDER_VIEW_COLUMN_LIST, type OrderView } from '../read-model.ts';

export const orderParams = z.object({ id });
export type OrderParams = z.input<typeof orderParams>;

/** The hot read path's text, written once: $1 is the ids as one JSON array. */
const ORDERS_BY_ID = `select ${ORDER_VIEW_COLUMN_LIST} from orders where id = any(array(select jsonb_array_elements_text($1::jsonb)))`;

export const orderQuery: QueryDefinition<OrderParams, OrderView | null> = {
  projections: [ORDERS_PROJECTION],
  create({ db }) {
    const load = createMicroBatcher(async (ids: readonly string[]) => {
      const rows = new Map((await db.query<OrderView>(ORDERS_BY_ID, [JSON.stringify(ids)])).map((row) => [row.id, row]));
      return ids.map((orderId) => rows.get(orderId) ?? null);
    });
    return async (params, { caller }) => {
      const { id: orderId } = parseWith(orderParams, params);
      const row = await load(orderId);
      if (row) assertCustomerAccess(caller, row.customerId, `order ${orderId}`);
      return row;
    };
  },
};

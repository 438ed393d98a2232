// orderFulfilment(orderId): the order's fulfilment status, PENDING until the process has handled it: the
// last outcome event's (order_fulfilments), else the process's own state (an order with nothing
// stock-controlled is RESERVED there, with no event). Asked for every order of a page: lookups that
// arrive together share one query.
import { z } from 'zod';
import { id } from '../core/input-fields.ts';
import { createMicroBatcher } from '../core/micro-batch.ts';
import type { QueryDefinition, QueryTypes } from '../core/module.ts';
import { parseWith } from '../core/validation.ts';
import type { FulfilmentStatus } from './events.ts';
import { FULFILMENT_PROCESS } from './process.ts';
import { ORDER_FULFILMENTS_PROJECTION } from './projections/order-fulfilments.ts';

export const orderFulfilmentParams = z.object({ orderId: id });
export type OrderFulfilmentParams = z.input<typeof orderFulfilmentParams>;

const BY_ORDER = `select o.id as "orderId", coalesce(f.status, p.status) as status
  from jsonb_array_elements_text($1::jsonb) as o(id)
  left join order_fulfilments f on f.order_id = o.id
  left join fulfilment_process p on p.order_id = o.id
  where f.status is not null or p.status is not null`;

/** Callers read an order first (which checks they may see it), then its fulfilment. */
export const orderFulfilmentQuery: QueryDefinition<OrderFulfilmentParams, FulfilmentStatus> = {
  projections: [ORDER_FULFILMENTS_PROJECTION, FULFILMENT_PROCESS],
  create({ db }) {
    const load = createMicroBatcher(async (ids: readonly string[]) => {
      const rows = await db.query<{ orderId: string; status: FulfilmentStatus }>(BY_ORDER, [JSON.stringify(ids)]);
      const status = new Map(rows.map((row) => [row.orderId, row.status]));
      return ids.map((orderId) => status.get(orderId) ?? 'PENDING');
    });
    return async (params) => load(parseWith(orderFulfilmentParams, params).orderId);
  },
};

export const fulfilmentQueries = { orderFulfilment: orderFulfilmentQuery };
export type FulfilmentQueries = QueryTypes<typeof fulfilmentQueries>;

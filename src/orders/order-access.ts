// orderAccess(id): whose order it is, from the event store (the truth, even before the read model has
// the order): NOT_FOUND for an unknown order, FORBIDDEN for another customer's. Subscriptions ask it first.
import { z } from 'zod';
import { assertCustomerAccess } from '../core/caller.ts';
import { NotFoundError } from '../core/errors.ts';
import { id } from '../core/input-fields.ts';
import type { QueryDefinition } from '../core/module.ts';
import { parseWith } from '../core/validation.ts';
import type { OrderCreated } from './events.ts';

export const orderAccessParams = z.object({ id });
export type OrderAccessParams = z.input<typeof orderAccessParams>;

export const orderAccessQuery: QueryDefinition<OrderAccessParams, { orderId: string; customerId: string }> = {
  projections: [], // it reads the event store itself
  create: ({ store }) =>
    async function orderAccess(params, { caller }) {
      const { id: orderId } = parseWith(orderAccessParams, params);
      const { events } = await store.readStream(orderId);
      const created = events[0];
      if (created?.type !== 'OrderCreated') throw new NotFoundError(`Order ${orderId} not found`);
      const { customerId } = (created as unknown as OrderCreated).data;
      assertCustomerAccess(caller, customerId, `order ${orderId}`);
      return { orderId, customerId };
    },
};

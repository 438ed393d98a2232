// Fulfilment as a DomainModule: between Orders and Inventory. The `fulfilment` process manager (its
// outcomes land in each order's fulfilment stream, which Orders owns) and the `order_fulfilments` read
// model behind Order.fulfilment.
import { defineModule, type QueryTypes } from '../core/module.ts';
import { fulfilmentProcess } from './process.ts';
import { orderFulfilmentQuery, orderFulfilmentsProjection } from './read-models/order-fulfilments.ts';

export const fulfilmentModule = defineModule({
  name: 'fulfilment',
  events: {},
  aggregates: [],
  projections: [orderFulfilmentsProjection],
  processManagers: [fulfilmentProcess],
  queries: { orderFulfilment: orderFulfilmentQuery },
});

export type FulfilmentQueries = QueryTypes<typeof fulfilmentModule.queries>;

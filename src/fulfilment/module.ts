// Fulfilment as a DomainModule: between Orders and Inventory. The `fulfilment` process manager, the
// Fulfilment aggregate its outcomes land in, and the `order_fulfilments` read model behind Order.fulfilment.
import { defineModule, type QueryTypes } from '../core/module.ts';
import { fulfilmentEventSchemas } from './events.ts';
import { fulfilmentAggregate } from './fulfilment-aggregate.ts';
import { fulfilmentProcess } from './process.ts';
import { orderFulfilmentQuery, orderFulfilmentsProjection } from './read-models/order-fulfilments.ts';

export const fulfilmentModule = defineModule({
  name: 'fulfilment',
  events: fulfilmentEventSchemas,
  aggregates: [fulfilmentAggregate],
  projections: [orderFulfilmentsProjection],
  processManagers: [fulfilmentProcess],
  queries: { orderFulfilment: orderFulfilmentQuery },
});

export type FulfilmentQueries = QueryTypes<typeof fulfilmentModule.queries>;

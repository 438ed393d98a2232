// Fulfilment as a DomainModule: between Orders and Inventory. The `fulfilment` process manager, the
// Fulfilment aggregate its outcomes land in, and the `order_fulfilments` projection behind Order.fulfilment.
import type { DomainModule } from '../core/module.ts';
import { fulfilmentEventSchemas } from './events.ts';
import { fulfilmentQueries } from './order-fulfilment-query.ts';
import { fulfilmentProcess } from './process.ts';
import { orderFulfilmentsProjection } from './projections/order-fulfilments.ts';
import { fulfilmentAggregate } from './record-outcome.ts';

export const fulfilmentModule: DomainModule = {
  name: 'fulfilment',
  events: fulfilmentEventSchemas,
  aggregates: [fulfilmentAggregate],
  projections: [orderFulfilmentsProjection],
  processManagers: [fulfilmentProcess],
  queries: fulfilmentQueries,
};

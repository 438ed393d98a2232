// The Inventory domain as a DomainModule: the Product aggregate, its events, the `products` projection
// and the queries over it. It knows nothing of orders: the fulfilment process sends it commands.
import type { DomainModule } from '../core/module.ts';
import { productEventSchemas } from './events.ts';
import { productAggregate } from './product-aggregate.ts';
import { productsProjection } from './projections/products.ts';
import { productQueries } from './queries/index.ts';

export const inventoryModule: DomainModule = {
  name: 'inventory',
  events: productEventSchemas,
  aggregates: [productAggregate],
  projections: [productsProjection],
  queries: productQueries,
};

// The Inventory domain as a DomainModule: the Product aggregate, its events, and the `products` read
// model (its projection and queries). It knows nothing of orders: the fulfilment process sends it commands.
import { defineModule, type QueryTypes } from '../core/module.ts';
import { productEventSchemas } from './events.ts';
import { productAggregate } from './product-aggregate.ts';
import { knownSkusQuery, productQuery, productsProjection, productsQuery } from './read-models/products.ts';

export const inventoryModule = defineModule({
  name: 'inventory',
  events: productEventSchemas,
  aggregates: [productAggregate],
  projections: [productsProjection],
  queries: { product: productQuery, products: productsQuery, knownSkus: knownSkusQuery },
});

export type ProductQueries = QueryTypes<typeof inventoryModule.queries>;

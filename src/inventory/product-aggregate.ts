// The Product aggregate as the command side runs it: its decider, its commands' inputs, its stream rule
// (a product's stream is its sku; creating one reads it, so that a taken sku is RULE_VIOLATION), and its
// snapshots.
import type { Aggregate } from '../core/module.ts';
import { commitStockInput } from './commands/commit-stock.ts';
import { createProductInput } from './commands/create-product.ts';
import { releaseStockInput } from './commands/release-stock.ts';
import { reserveStockInput } from './commands/reserve-stock.ts';
import { restockProductInput } from './commands/restock-product.ts';
import { productDecider, type ProductCommand } from './decider.ts';
import { PRODUCT_STREAM_TYPE, type ProductEvent } from './events.ts';
import type { ProductState } from './product.ts';

export const productAggregate: Aggregate<ProductCommand, ProductEvent, ProductState> = {
  streamType: PRODUCT_STREAM_TYPE,
  decider: productDecider,
  inputs: {
    CreateProduct: createProductInput,
    RestockProduct: restockProductInput,
    ReserveStock: reserveStockInput,
    ReleaseStock: releaseStockInput,
    CommitStock: commitStockInput,
  },
  streamId: (command) => command.data.sku,
  // A product's stream grows by an event or two per order: a cold read starts from its last snapshot.
  snapshots: { every: 100, deciderVersion: 1 },
};

// The domains this service runs, each with its GraphQL face: adding one is one line here.
import type { DomainModule } from './core/module.ts';
import { fulfilment } from './fulfilment/index.ts';
import type { FulfilmentQueries } from './fulfilment/order-fulfilment-query.ts';
import type { GraphQLFace } from './graphql/builder.ts';
import { inventory } from './inventory/index.ts';
import type { ProductQueries } from './inventory/queries/index.ts';
import { orders } from './orders/index.ts';
import type { OrderQueries } from './orders/queries/index.ts';

export type ServedModule = { module: DomainModule; graphql: GraphQLFace };

export const MODULES: readonly ServedModule[] = [orders, inventory, fulfilment];

/** Every module's queries, for typed calls through the query bus. */
export type AppQueries = OrderQueries & ProductQueries & FulfilmentQueries;

// The Inventory domain as the service composes it: its module and its GraphQL face.
import { inventoryGraphQL } from './graphql.ts';
import { inventoryModule } from './module.ts';

export const inventory = { module: inventoryModule, graphql: inventoryGraphQL };

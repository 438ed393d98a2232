// The Orders domain as the service composes it: its module and its GraphQL face.
import { ordersGraphQL } from './graphql/index.ts';
import { ordersModule } from './module.ts';

export const orders = { module: ordersModule, graphql: ordersGraphQL };

// Fulfilment as the service composes it: its module and its GraphQL face.
import { fulfilmentGraphQL } from './graphql.ts';
import { fulfilmentModule } from './module.ts';

export const fulfilment = { module: fulfilmentModule, graphql: fulfilmentGraphQL };

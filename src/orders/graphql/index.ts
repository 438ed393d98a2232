// The Orders domain's GraphQL face: its types, queries (on the query bus), mutations (on the command bus)
// and the orderChanged subscription. Resolvers only parse, dispatch and shape.
import type { Builder } from '../../graphql/builder.ts';
import { orderLiveSources } from './live.ts';
import { orderMutationFields } from './mutations.ts';
import { orderQueryFields } from './queries.ts';
import { orderSubscriptionFields } from './subscriptions.ts';

export { type OrderChangeSource, orderChangeSources } from './subscriptions.ts';
export { orderTypes } from './types.ts';
export { orderKey } from './live.ts';

export function ordersGraphQL(builder: Builder): void {
  orderQueryFields(builder);
  orderMutationFields(builder);
  orderSubscriptionFields(builder);
  orderLiveSources(builder);
}

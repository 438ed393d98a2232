// The domains this service runs, each with its GraphQL face: adding one is one line here.
import type { DomainModule, QueryTypes } from './core/module.ts';
import { fulfilment } from './fulfilment/index.ts';
import type { GraphQLFace } from './graphql/builder.ts';
import { inventory } from './inventory/index.ts';
import { orders } from './orders/index.ts';

export type ServedModule = { module: DomainModule<any>; graphql: GraphQLFace };

export const MODULES = [orders, inventory, fulfilment] as const satisfies readonly ServedModule[];

type Intersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;
type QueriesOf<M> = M extends { module: DomainModule<infer Q> } ? QueryTypes<Q> : never;

/** Every module's queries, for typed calls through the query bus. */
export type AppQueries = Intersection<QueriesOf<(typeof MODULES)[number]>>;

// Builds the schema from the type modules; printed sorted to schema.graphql by `npm run schema:print`.
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { builder } from './builder.ts';
import './scalars.ts';
import './orders.ts';
import './projections.ts';

/** A new schema object per call: each server gets its own, so no cache keyed by schema is shared. */
export function buildSchema(): GraphQLSchema {
  return builder.toSchema({ sortSchema: true });
}

export function printSortedSchema(): string {
  return `${printSchema(lexicographicSortSchema(buildSchema()))}\n`;
}

// The schema, assembled from the projections' face and each module's; printed sorted to schema.graphql.
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { createBuilder, type GraphQLFace } from './builder.ts';
import { projectionsGraphQL } from './projections.ts';

/** A new schema object per call: each server gets its own, so no cache keyed by schema is shared. */
export function buildSchema(faces: readonly GraphQLFace[]): GraphQLSchema {
  const builder = createBuilder();
  projectionsGraphQL(builder);
  for (const face of faces) face(builder);
  return builder.toSchema({ sortSchema: true });
}

export const printSortedSchema = (faces: readonly GraphQLFace[]) => `${printSchema(lexicographicSortSchema(buildSchema(faces)))}\n`;

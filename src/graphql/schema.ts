// The schema, assembled from the projections' face and each module's; printed sorted to schema.graphql.
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { GraphQLLiveDirective } from '@n1ru4l/graphql-live-query';
import { createBuilder, type GraphQLFace } from './builder.ts';
import { liveSourcesExtension } from './live-sources.ts';
import { projectionsGraphQL } from './projections.ts';

/** A new schema object per call: each server gets its own, so no cache keyed by schema is shared. */
export function buildSchema(faces: readonly GraphQLFace[]): GraphQLSchema {
  const builder = createBuilder();
  projectionsGraphQL(builder);
  for (const face of faces) face(builder);
  // @live on a query makes it a live query (live-queries.ts); the faces' live sources ride along.
  return builder.toSchema({ sortSchema: true, directives: [GraphQLLiveDirective], extensions: liveSourcesExtension(builder) });
}

export const printSortedSchema = (faces: readonly GraphQLFace[]) => `${printSchema(lexicographicSortSchema(buildSchema(faces)))}\n`;

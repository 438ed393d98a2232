// The Pothos builder, typed with the context and scalars; no types are defined here.
import SchemaBuilder from '@pothos/core';
import type { Position } from '../core/position.ts';
import type { GraphQLContext } from './context.ts';

export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  DefaultFieldNullability: false;
  Scalars: {
    ConsistencyToken: { Input: Position; Output: string };
    DateTime: { Input: Date; Output: string | Date };
    Money: { Input: string; Output: string };
    ID: { Input: string; Output: string };
  };
}>({ defaultFieldNullability: false });

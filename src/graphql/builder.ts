// The Pothos builder: plugins, scalars and the root types, and nothing else. Each module's GraphQL face
// adds its own types and fields to the builder it is given (Pothos's app layout).
import SchemaBuilder from '@pothos/core';
import type { Position } from '../core/position.ts';
import type { GraphQLContext } from './context.ts';
import { consistencyTokenScalar, dateTimeScalar, moneyScalar } from './scalars.ts';

export type SchemaTypes = {
  Context: GraphQLContext;
  DefaultFieldNullability: false;
  Scalars: {
    ConsistencyToken: { Input: Position; Output: string };
    DateTime: { Input: Date; Output: string | Date };
    Money: { Input: string; Output: string };
    ID: { Input: string; Output: string };
  };
};

export type Types = PothosSchemaTypes.ExtendDefaultTypes<SchemaTypes>;

export function createBuilder() {
  const builder = new SchemaBuilder<SchemaTypes>({ defaultFieldNullability: false });
  builder.scalarType('ConsistencyToken', consistencyTokenScalar);
  builder.scalarType('DateTime', dateTimeScalar);
  builder.scalarType('Money', moneyScalar);
  builder.queryType({});
  builder.mutationType({});
  builder.subscriptionType({});
  return builder;
}

export type Builder = ReturnType<typeof createBuilder>;

/** A module's GraphQL face: adds its types and fields. */
export type GraphQLFace = (builder: Builder) => void;

/**
 * Refs one face defines and others extend (another module's field on Order, say), one set per builder:
 * a Pothos ref collects the fields added to it, so it cannot be shared by two schemas.
 */
export function perBuilder<T>(make: (builder: Builder) => T): (builder: Builder) => T {
  const made = new WeakMap<Builder, T>();
  return (builder) => {
    let value = made.get(builder);
    if (value === undefined) made.set(builder, (value = make(builder)));
    return value;
  };
}

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { printSortedSchema as printFaces } from '../../src/graphql/schema.ts';
import { MODULES } from '../../src/modules.ts';

const printSortedSchema = () => printFaces(MODULES.map((m) => m.graphql));

describe('schema.graphql', () => {
  it('is the sorted print of the Pothos schema (run `npm run schema:print` after changing it)', () => {
    const committed = readFileSync(new URL('../../schema.graphql', import.meta.url), 'utf8');
    expect(committed).toBe(printSortedSchema());
  });

  it('has the fixed part of the public contract (the schema every client relies on)', () => {
    const printed = printSortedSchema();
    for (const line of [
      'order(after: ConsistencyToken, id: ID!): Order',
      'customerOrders(after: ConsistencyToken, customerId: ID!, page: Int = 1, pageSize: Int = 20, status: OrderStatus): OrderPage!',
      'searchOrders(after: ConsistencyToken, page: Int = 1, pageSize: Int = 20, query: String!, sortBy: OrderSortField = CREATED_AT, sortOrder: SortOrder = DESC, status: OrderStatus): OrderPage!',
      'customerSummary(after: ConsistencyToken, customerId: ID!): CustomerSummary',
      'projections: [ProjectionStatus!]!',
      'createOrder(input: CreateOrderInput!): OrderPayload!',
      'addOrderItem(input: AddOrderItemInput!): OrderPayload!',
      'cancelOrder(input: CancelOrderInput!): OrderPayload!',
      'shipOrder(input: ShipOrderInput!): OrderPayload!',
      'rebuildProjection(name: String!): ProjectionStatus!',
      'pauseProjection(name: String!): ProjectionStatus!',
      'resumeProjection(name: String!): ProjectionStatus!',
      'projectionProgress(projections: [String!], until: ConsistencyToken): ProjectionProgress!',
      'orderChanged(id: ID!): Order!',
      'consistencyToken: ConsistencyToken!',
      'scalar Money',
      'scalar DateTime',
      'scalar ConsistencyToken',
    ]) {
      expect(printed).toContain(line);
    }
  });
});

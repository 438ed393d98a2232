// Session consistency with the real clients against a running server: Apollo Client 4 and urql 6, over
// HTTP and over graphql-ws. With the `orders` projection held back on every write (paused, resumed a
// little later), a customerOrders query with no `after:` sees the order just created, 100 times in a row.
import { ApolloClient, ApolloLink, gql, HttpLink, InMemoryCache } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { Client, fetchExchange, subscriptionExchange, type Exchange } from '@urql/core';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionLink } from '@converge/client/apollo';
import { createSession, type Session } from '@converge/client';
import { sessionExchange } from '@converge/client/urql';
import { SYSTEM_CALLER } from '../../src/core/caller.ts';
import { driverName } from '../support/db.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const CREATE = `mutation Create($input: CreateOrderInput!) { createOrder(input: $input) { orderId } }`;
const ORDERS = `query Orders($customerId: ID!) { customerOrders(customerId: $customerId, pageSize: 100) { total items { id } } }`;
const address = { line1: '1 Main St', city: 'Berlin', postalCode: '10115', country: 'DE' };

type AnyClient = {
  session: Session;
  mutate(variables: Record<string, unknown>): Promise<{ createOrder: { orderId: string } }>;
  orders(customerId: string): Promise<{ customerOrders: { total: number; items: { id: string }[] } }>;
  close(): Promise<void>;
};

describe(`session consistency with real GraphQL clients on ${driverName}`, () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(() => s.close());

  const wsClient = () => createClient({ url: s.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0 });

  const apollo = (transport: 'http' | 'ws'): AnyClient => {
    const session = createSession();
    const ws = transport === 'ws' ? wsClient() : undefined;
    const terminating = ws ? new GraphQLWsLink(ws) : new HttpLink({ uri: s.url });
    const client = new ApolloClient({ link: ApolloLink.from([sessionLink(session), terminating]), cache: new InMemoryCache() });
    return {
      session,
      mutate: async (variables) => (await client.mutate({ mutation: gql(CREATE), variables })).data as never,
      orders: async (customerId) =>
        (await client.query({ query: gql(ORDERS), variables: { customerId }, fetchPolicy: 'network-only' })).data as never,
      close: async () => {
        client.stop();
        await ws?.dispose();
      },
    };
  };

  const urql = (transport: 'http' | 'ws'): AnyClient => {
    const session = createSession();
    const ws = transport === 'ws' ? wsClient() : undefined;
    const terminating: Exchange = ws
      ? subscriptionExchange({
          enableAllOperations: true,
          forwardSubscription: (request) => ({
            subscribe: (sink) => ({ unsubscribe: ws.subscribe({ ...request, query: request.query ?? '' }, sink) }),
          }),
        })
      : fetchExchange;
    const client = new Client({ url: s.url, exchanges: [sessionExchange(session), terminating], requestPolicy: 'network-only' });
    const data = <T>(result: { data?: T; error?: unknown }) => {
      if (result.error) throw result.error;
      return result.data as T;
    };
    return {
      session,
      mutate: async (variables) => data(await client.mutation(CREATE, variables).toPromise()),
      orders: async (customerId) => data(await client.query(ORDERS, { customerId }).toPromise()),
      close: async () => {
        await ws?.dispose();
      },
    };
  };

  /** Holds the `orders` projection back for the write: paused before it, resumed 25 ms after it. */
  const heldBack = async <T>(write: () => Promise<T>): Promise<T> => {
    const { admin } = s.app.services;
    await admin.pause('orders', SYSTEM_CALLER);
    try {
      return await write();
    } finally {
      setTimeout(() => void admin.resume('orders', SYSTEM_CALLER), 25);
    }
  };

  for (const [name, make] of [
    ['Apollo Client over HTTP', () => apollo('http')],
    ['Apollo Client over graphql-ws', () => apollo('ws')],
    ['urql over HTTP', () => urql('http')],
    ['urql over graphql-ws', () => urql('ws')],
  ] as const) {
    it(`${name}: 100 orders in a row, each one seen by the next query, which has no after:`, async () => {
      const client = make();
      const customerId = `session-${name.replace(/\W+/g, '-')}`;
      try {
        for (let i = 1; i <= 100; i++) {
          const { createOrder } = await heldBack(() =>
            client.mutate({ input: { customerId, items: [{ productId: 'p', quantity: 1, unitPrice: '1.00' }], shippingAddress: address } }),
          );
          const { customerOrders } = await client.orders(customerId);
          expect(customerOrders.total, `order ${i}`).toBe(i);
          expect(customerOrders.items.map((o) => o.id)).toContain(createOrder.orderId);
        }
        expect(client.session.token).toMatch(/^c1\./);
      } finally {
        await client.close();
      }
      // 100 pauses and resumes: a busy machine (or PGlite's one connection) takes a while, nothing waits on a timer.
    }, 180_000);
  }

  it('two client instances keep separate sessions', async () => {
    const [a, b] = [apollo('http'), urql('http')];
    try {
      await a.mutate({
        input: { customerId: 'two-a', items: [{ productId: 'p', quantity: 1, unitPrice: '1.00' }], shippingAddress: address },
      });
      expect(a.session.token).toBeDefined();
      expect(b.session.token).toBeUndefined();
      await b.orders('two-b');
      expect(b.session.token).toBeUndefined(); // a query that carried no token and ran no command gets none
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

// urql with session consistency, over HTTP for queries and mutations and graphql-ws for subscriptions,
// against a running server (npm start):
//   npx tsx --conditions=source docs/examples/client/urql.ts [http://127.0.0.1:4000/graphql]
import { Client, fetchExchange, subscriptionExchange } from '@urql/core';
import { createClient as createWsClient } from 'graphql-ws';
import WebSocket from 'ws';
import { createSession } from '@converge/client';
import { sessionExchange } from '@converge/client/urql';
import { anOrder, CustomerOrders, OrderChanged, PlaceOrder } from './operations.ts';

const url = process.argv[2] ?? 'http://127.0.0.1:4000/graphql';
const ws = createWsClient({ url: url.replace(/^http/, 'ws'), webSocketImpl: WebSocket });
const session = createSession();
const client = new Client({
  url,
  exchanges: [
    sessionExchange(session),
    fetchExchange,
    subscriptionExchange({
      forwardSubscription: (request) => ({
        subscribe: (sink) => ({ unsubscribe: ws.subscribe({ ...request, query: request.query ?? '' }, sink) }),
      }),
    }),
  ],
});

const placed = await client.mutation(PlaceOrder, { input: anOrder('customer-urql') }).toPromise();
const orderId = placed.data!.createOrder.orderId;
const orders = await client.query(CustomerOrders, { customerId: 'customer-urql' }, { requestPolicy: 'network-only' }).toPromise();
console.log(JSON.stringify({ placed: orderId, listed: orders.data?.customerOrders.items.some((order) => order.id === orderId) }));
// The order as it changes: the first change shown once the order ships (shipOrder in another client).
const changes = client
  .subscription(OrderChanged, { id: orderId })
  .subscribe((result) => console.log(JSON.stringify(result.data?.orderChanged)));
setTimeout(() => {
  changes.unsubscribe();
  void ws.dispose();
}, 1000);

// Apollo Client with session consistency, against a running server (npm start):
//   npx tsx --conditions=source docs/examples/client/apollo.ts [http://127.0.0.1:4000/graphql]
// Places an order, then lists the customer's orders with no `after:` in the query: the session token the
// link keeps makes the list include the order just placed.
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from '@apollo/client';
import { sessionLink } from '@converge/client/apollo';
import { createSession } from '@converge/client';
import { anOrder, CustomerOrders, PlaceOrder } from './operations.ts';

const uri = process.argv[2] ?? 'http://127.0.0.1:4000/graphql';
const session = createSession(); // one per client instance (per user, in a browser: per tab)
const client = new ApolloClient({ link: ApolloLink.from([sessionLink(session), new HttpLink({ uri })]), cache: new InMemoryCache() });

const placed = await client.mutate({ mutation: PlaceOrder, variables: { input: anOrder('customer-apollo') } });
const orders = await client.query({ query: CustomerOrders, variables: { customerId: 'customer-apollo' }, fetchPolicy: 'network-only' });
const mine = orders.data?.customerOrders.items.find((order) => order.id === placed.data?.createOrder.orderId);
console.log(JSON.stringify({ placed: placed.data?.createOrder.orderId, listed: mine, total: orders.data?.customerOrders.total }));
client.stop();

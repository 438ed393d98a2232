// The application of the pack check (scripts/client-pack-check.mjs), run with plain `node app.mjs` in a
// scratch project that installed the packed @converge/client: it reads its own write through Apollo
// Client and urql, then sees a stale answer reported while the `orders` projection is paused.
import assert from 'node:assert/strict';
import { ApolloClient, ApolloLink, gql, HttpLink, InMemoryCache } from '@apollo/client';
import { createSession } from '@converge/client';
import { sessionLink } from '@converge/client/apollo';
import { sessionExchange } from '@converge/client/urql';
import { Client, fetchExchange } from '@urql/core';
import { map } from 'rxjs';

const url = process.env.CONVERGE_URL;
const customerId = `pack-check-${Date.now()}`;
const CREATE = `mutation Create($input: CreateOrderInput!) { createOrder(input: $input) { orderId } }`;
const ORDERS = `query Orders($customerId: ID!) { customerOrders(customerId: $customerId) { total items { id } } }`;
const input = {
  customerId,
  items: [{ productId: 'espresso-beans', quantity: 1, unitPrice: '12.50' }],
  shippingAddress: { line1: '1 Main St', city: 'Berlin', postalCode: '10115', country: 'DE' },
};

// Apollo: a session with onStale, and a link of the application's own that reads each response's extensions.
const apolloStale = [];
const apolloExtensions = [];
const readExtensions = new ApolloLink((operation, forward) =>
  forward(operation).pipe(
    map((result) => {
      apolloExtensions.push(operation.getContext().responseExtensions);
      return result;
    }),
  ),
);
const apollo = new ApolloClient({
  link: ApolloLink.from([
    readExtensions,
    sessionLink(createSession({ onStale: (result) => apolloStale.push(result) })),
    new HttpLink({ uri: url }),
  ]),
  cache: new InMemoryCache(),
});
const apolloCreate = async () => (await apollo.mutate({ mutation: gql(CREATE), variables: { input } })).data.createOrder.orderId;
const apolloOrders = async () =>
  (await apollo.query({ query: gql(ORDERS), variables: { customerId }, fetchPolicy: 'network-only' })).data.customerOrders;

// urql: the same with the session exchange.
const urqlStale = [];
const urql = new Client({
  url,
  exchanges: [sessionExchange(createSession({ onStale: (result) => urqlStale.push(result) })), fetchExchange],
  requestPolicy: 'network-only',
});
const urqlData = (result) => {
  if (result.error) throw result.error;
  return result.data;
};
const urqlCreate = async () => urqlData(await urql.mutation(CREATE, { input }).toPromise()).createOrder.orderId;
const urqlOrders = async () => urqlData(await urql.query(ORDERS, { customerId }).toPromise()).customerOrders;

const admin = async (query) => {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
  const body = await response.json();
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
};

// Each client reads its own write, with no after: in its query.
const first = await apolloCreate();
assert.ok(
  (await apolloOrders()).items.some((order) => order.id === first),
  'Apollo did not see its own order',
);
const second = await urqlCreate();
assert.ok(
  (await urqlOrders()).items.some((order) => order.id === second),
  'urql did not see its own order',
);
assert.deepEqual([apolloStale.length, urqlStale.length], [0, 0]);
console.log('read-your-writes: Apollo and urql each saw the order they had just created');

// With the projection paused, the next read waits CONSISTENCY_TIMEOUT_MS and answers stale.
await admin('mutation { pauseProjection(name: "orders") { state } }');
try {
  await apolloCreate();
  await apolloOrders();
  await urqlCreate();
  await urqlOrders();
} finally {
  await admin('mutation { resumeProjection(name: "orders") { state } }');
}
assert.equal(apolloStale.length, 1, 'Apollo onStale was not called once');
assert.equal(apolloStale[0].extensions.consistency.stale, true);
assert.equal(apolloExtensions.at(-1)?.consistency?.stale, true, 'the Apollo link did not put the extensions in the context');
assert.equal(urqlStale.length, 1, 'urql onStale was not called once');
assert.equal(urqlStale[0].operation.kind, 'query');
console.log('stale answers: onStale fired for Apollo and urql, and the Apollo context carried extensions.consistency.stale');
apollo.stop();

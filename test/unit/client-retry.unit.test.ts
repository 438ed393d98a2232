// The client package's helpers send an operation again when the server answers SERVICE_UNAVAILABLE
// with `retryable` and a repeat is safe (a read, nothing applied, or a commandId), and never otherwise.
// The server here is a real HTTP endpoint that answers as Converge does while its database restarts.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloClient, ApolloLink, gql, HttpLink, InMemoryCache } from '@apollo/client';
import { Client, fetchExchange } from '@urql/core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createSession } from '@converge/client';
import { sessionLink } from '@converge/client/apollo';
import { sessionFetch } from '@converge/client';
import { sessionExchange } from '@converge/client/urql';

const unavailable = (outcome?: 'none' | 'unknown') => ({
  errors: [
    {
      message: 'The database is unavailable right now',
      extensions: { code: 'SERVICE_UNAVAILABLE', retryable: true, ...(outcome && { outcome }) },
    },
  ],
});

describe('retries of the client helpers', () => {
  let server: Server;
  let url: string;
  /** What the server answers to the next requests, in turn; then data. */
  let script: object[] = [];
  let requests = 0;
  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        requests++;
        const next = script.shift();
        res.writeHead(next ? 503 : 200, { 'content-type': 'application/graphql-response+json' });
        res.end(
          JSON.stringify(next ?? { data: { order: { __typename: 'Order', id: 'o-1' } }, extensions: { consistency: { token: 'c1.1.1' } } }),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => {
    requests = 0;
  });

  const QUERY = 'query { order(id: "o-1") { id } }';
  const MUTATION = 'mutation($input: CreateOrderInput!) { createOrder(input: $input) { orderId } }';

  const viaFetch = async (query: string, variables?: object) => {
    const session = createSession();
    const response = await sessionFetch(session)(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables }),
    });
    return { body: (await response.json()) as { errors?: unknown[] }, session };
  };

  it('fetch: a read answered unavailable twice is sent again and succeeds, its token kept', async () => {
    script = [unavailable(), unavailable()];
    const { body, session } = await viaFetch(QUERY);
    expect(body.errors).toBeUndefined();
    expect(requests).toBe(3);
    expect(session.token).toBe('c1.1.1');
  });

  it('fetch: a command is sent again when nothing was applied or it has a commandId, never when it may have been applied', async () => {
    script = [unavailable('none')];
    expect((await viaFetch(MUTATION, { input: {} })).body.errors).toBeUndefined();
    expect(requests).toBe(2);

    requests = 0;
    script = [unavailable('unknown')];
    expect((await viaFetch(MUTATION, { input: { commandId: 'c-1' } })).body.errors).toBeUndefined();
    expect(requests).toBe(2);

    requests = 0;
    script = [unavailable('unknown')];
    const { body } = await viaFetch(MUTATION, { input: {} });
    expect(body.errors).toEqual(unavailable('unknown').errors);
    expect(requests).toBe(1);
  });

  it('fetch: gives up after a few tries and hands over the last answer', async () => {
    script = [unavailable(), unavailable(), unavailable(), unavailable(), unavailable()];
    const { body } = await viaFetch(QUERY);
    expect(body.errors).toEqual(unavailable().errors);
    expect(requests).toBe(4);
    script = [];
  });

  it('Apollo Client: the link sends a read again', async () => {
    script = [unavailable(), unavailable()];
    const client = new ApolloClient({
      link: ApolloLink.from([sessionLink(createSession()), new HttpLink({ uri: url })]),
      cache: new InMemoryCache(),
    });
    const result = await client.query({ query: gql(QUERY), fetchPolicy: 'network-only' });
    expect(result.data).toEqual({ order: { __typename: 'Order', id: 'o-1' } });
    expect(requests).toBe(3);
  });

  it('urql: the exchange sends a mutation with a commandId again', async () => {
    script = [unavailable('unknown')];
    const client = new Client({ url, exchanges: [sessionExchange(createSession()), fetchExchange] });
    const result = await client.mutation(MUTATION, { input: { commandId: 'c-2' } }).toPromise();
    expect(result.error).toBeUndefined();
    expect(requests).toBe(2);

    requests = 0;
    script = [unavailable('unknown')];
    const refused = await client.mutation(MUTATION, { input: {} }).toPromise();
    expect(refused.error?.graphQLErrors[0]?.extensions).toMatchObject({ outcome: 'unknown' });
    expect(requests).toBe(1);
  });
});

// A hostile client against a started server with JWT_SECRET set: authentication, per-customer
// authorization on every path, limits, the graphql-cop checks, malformed requests. Afterwards the server
// still answers, and no error anywhere leaks SQL, a stack frame or a file path.
import { request as httpRequest } from 'node:http';
import { getIntrospectionQuery } from 'graphql';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { driverName } from '../support/db.ts';
import { startTestServer, type GraphQLResponse, type TestServer } from '../support/server.ts';
import { bearer, signToken, TEST_SECRET } from '../support/tokens.ts';

const address = { line1: '1 Main St', city: 'Berlin', postalCode: '10115', country: 'DE' };
const CREATE = `mutation($input: CreateOrderInput!) { createOrder(input: $input) { orderId version consistencyToken } }`;

describe(`security on ${driverName}`, () => {
  let s: TestServer;
  let admin: Record<string, string>;
  let alice: Record<string, string>;
  let bob: Record<string, string>;
  const seen: GraphQLResponse[] = [];
  const gql = async (query: string, variables?: Record<string, unknown>, headers?: Record<string, string>) => {
    const r = await s.gql(query, variables, headers);
    seen.push(r);
    return r;
  };
  const raw = async (init: RequestInit & { path?: string }) => {
    const response = await fetch(`${s.origin}${init.path ?? '/graphql'}`, init);
    const text = await response.text();
    seen.push({ status: response.status, errors: [{ message: text }] });
    return { status: response.status, text };
  };
  const codeOf = (r: GraphQLResponse) => r.errors?.[0]?.extensions?.code;
  let aliceOrder: { orderId: string; consistencyToken: string };

  beforeAll(async () => {
    s = await startTestServer({ JWT_SECRET: TEST_SECRET, CONSISTENCY_TIMEOUT_MS: '3000' });
    admin = bearer(await signToken({ sub: 'ops', roles: ['admin'] }, { expiresIn: '1h' }));
    alice = bearer(await signToken({ sub: 'alice', roles: ['customer'] }, { expiresIn: '1h' }));
    bob = bearer(await signToken({ sub: 'bob', roles: ['customer'] }, { expiresIn: '1h' }));
    const r = await gql(
      CREATE,
      { input: { customerId: 'alice', items: [{ productId: 'p', quantity: 1, unitPrice: '5' }], shippingAddress: address } },
      alice,
    );
    expect(r.errors).toBeUndefined();
    aliceOrder = r.data.createOrder;
  });
  afterAll(() => s.close());

  // Read at least as fresh as alice's order (the only one she ever gets), so that a lagging projection
  // cannot pass for "nothing stored".
  const aliceOrders = async () =>
    (
      await gql(
        `query($t: ConsistencyToken) { customerOrders(customerId: "alice", after: $t) { total } }`,
        { t: aliceOrder.consistencyToken },
        admin,
      )
    ).data.customerOrders.total as number;

  describe('authentication', () => {
    it('refuses a missing, malformed, badly signed, expired or claim-less token with UNAUTHENTICATED', async () => {
      const tokens = [
        undefined,
        'Basic abc',
        'Bearer not.a.jwt',
        `Bearer ${await signToken({ sub: 'alice', roles: ['customer'] }, { secret: 'another-secret-another-secret-xx' })}`,
        `Bearer ${await signToken({ sub: 'alice', roles: ['customer'] }, { expiresIn: -10 })}`,
        `Bearer ${await signToken({ sub: 'alice', roles: ['customer'] }, { alg: 'HS512' })}`,
        `Bearer ${await signToken({ roles: ['admin'] })}`,
        `Bearer ${await signToken({ sub: 'x', roles: ['superuser'] })}`,
      ];
      const before = await aliceOrders();
      for (const authorization of tokens) {
        const r = await gql(
          CREATE,
          { input: { customerId: 'alice', items: [{ productId: 'p', quantity: 1, unitPrice: '1' }], shippingAddress: address } },
          authorization ? { authorization } : {},
        );
        expect(codeOf(r), String(authorization)).toBe('UNAUTHENTICATED');
        expect(r.data ?? null).toBeNull();
      }
      expect(await aliceOrders()).toBe(before);
    });

    it('over WebSocket, closes with 4403 before any operation when connection_init has no valid token', async () => {
      for (const connectionParams of [undefined, { authorization: 'Bearer nope' }]) {
        const closed = await new Promise<number>((resolve) => {
          const client = s.wsClient(connectionParams);
          client.on('closed', (event) => resolve((event as { code: number }).code));
          client.subscribe({ query: '{ __typename }' }, { next() {}, error() {}, complete() {} });
        });
        expect(closed).toBe(4403);
      }
    });

    it('ends a subscription when its token expires, over WebSocket and SSE', async () => {
      const shortLived = await signToken({ sub: 'alice', roles: ['customer'] }, { expiresIn: '2s' });
      const started = Date.now();
      const closed = await new Promise<number>((resolve) => {
        const client = s.wsClient({ authorization: `Bearer ${shortLived}` });
        client.on('closed', (event) => resolve((event as { code: number }).code));
        client.subscribe({ query: `subscription { projectionProgress { projection } }` }, { next() {}, error() {}, complete() {} });
      });
      expect(closed).toBe(4403);
      expect(Date.now() - started).toBeLessThan(6000);

      const sseToken = await signToken({ sub: 'alice', roles: ['customer'] }, { expiresIn: '2s' });
      const response = await fetch(s.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${sseToken}` },
        body: JSON.stringify({ query: `subscription { projectionProgress { projection } }` }),
      });
      const text = await response.text(); // ends when the server ends the stream
      expect(text).toMatch(/UNAUTHENTICATED/);
      expect(text).toMatch(/event: complete/);
    });
  });

  describe('HTTP status of a refused token', () => {
    const post = (accept: string | undefined, authorization?: string) =>
      fetch(s.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(accept && { accept }), ...(authorization && { authorization }) },
        body: JSON.stringify({ query: '{ customerOrders(customerId: "alice") { total } }' }),
      });
    const refusedTokens = async () => ({
      missing: undefined,
      expired: `Bearer ${await signToken({ sub: 'alice', roles: ['customer'] }, { expiresIn: -10 })}`,
      'badly signed': `Bearer ${await signToken({ sub: 'alice', roles: ['customer'] }, { secret: 'another-secret-another-secret-xx' })}`,
    });
    const bodyOf = async (response: Response) => (await response.json()) as GraphQLResponse;

    it('answers 401 with WWW-Authenticate: Bearer to a client that prefers application/graphql-response+json', async () => {
      for (const [what, authorization] of Object.entries(await refusedTokens())) {
        for (const accept of ['application/graphql-response+json', 'application/graphql-response+json, application/json;q=0.9']) {
          const response = await post(accept, authorization);
          expect(response.status, `${what}, ${accept}`).toBe(401);
          expect(response.headers.get('www-authenticate'), what).toBe(authorization ? 'Bearer error="invalid_token"' : 'Bearer');
          expect(response.headers.get('content-type')).toMatch(/^application\/graphql-response\+json/);
          const body = await bodyOf(response);
          expect(body.errors).toEqual([{ message: expect.any(String), extensions: { code: 'UNAUTHENTICATED' } }]);
          expect(body.data).toBeUndefined();
        }
      }
      // A GET (a query in the URL) the same.
      const get = await fetch(`${s.url}?query=${encodeURIComponent('{ __typename }')}`, {
        headers: { accept: 'application/graphql-response+json' },
      });
      expect(get.status).toBe(401);
      expect(get.headers.get('www-authenticate')).toBe('Bearer');
    });

    it('keeps 200 for an application/json client (and for no Accept or */*, which yoga answers as application/json)', async () => {
      for (const [what, authorization] of Object.entries(await refusedTokens())) {
        for (const accept of ['application/json', 'application/json, application/graphql-response+json', '*/*', undefined]) {
          const response = await post(accept, authorization);
          expect(response.status, `${what}, ${accept}`).toBe(200);
          expect(response.headers.get('www-authenticate')).toBeNull();
          expect((await bodyOf(response)).errors?.[0]?.extensions).toEqual({ code: 'UNAUTHENTICATED' });
        }
      }
    });

    it('a valid token refused inside execution (FORBIDDEN) is no 401', async () => {
      const response = await post('application/graphql-response+json', bob.authorization);
      expect(response.status).not.toBe(401);
      expect(response.headers.get('www-authenticate')).toBeNull();
      expect((await bodyOf(response)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    });

    it('the graphql-http server audits pass with a token', async () => {
      const { serverAudits } = await import('graphql-http');
      const withToken: typeof fetch = (input, init) =>
        fetch(input, { ...init, headers: { ...Object.fromEntries(new Headers(init?.headers)), ...admin } });
      const results = await Promise.all(serverAudits({ url: s.url, fetchFn: withToken }).map((audit) => audit.fn()));
      const notOk = results.filter((r) => r.status !== 'ok');
      expect(notOk.map((f) => `${f.status} ${f.name}: ${'reason' in f ? f.reason : ''}`)).toEqual([]);
    });
  });

  describe('authorization: a customer reaches only its own orders', () => {
    it('order, customerOrders, customerSummary and OrderPayload.order refuse another customer with FORBIDDEN', async () => {
      const t = aliceOrder.consistencyToken;
      const cases = [
        [`query($id: ID!, $t: ConsistencyToken) { order(id: $id, after: $t) { id } }`, { id: aliceOrder.orderId, t }],
        [`{ customerOrders(customerId: "alice") { total } }`, {}],
        [`{ customerOrders(customerId: "alice", status: PLACED) { items { id } } }`, {}],
        [`{ customerSummary(customerId: "alice") { orderCount } }`, {}],
      ] as const;
      for (const [query, variables] of cases) {
        const r = await gql(query, variables, bob);
        expect(codeOf(r), query).toBe('FORBIDDEN');
        expect(JSON.stringify(r.data ?? null)).not.toMatch(new RegExp(aliceOrder.orderId));
        const own = await gql(query, variables, alice);
        expect(own.errors, query).toBeUndefined();
      }
      const adminView = await gql(`{ customerSummary(customerId: "alice") { orderCount } }`, undefined, admin);
      expect(adminView.data.customerSummary.orderCount).toBeGreaterThan(0);
    });

    it('searchOrders shows a customer only its own orders, whatever it searches', async () => {
      const bobs = await gql(
        CREATE,
        { input: { customerId: 'bob', items: [{ productId: 'p', quantity: 1, unitPrice: '5' }], shippingAddress: address } },
        bob,
      );
      const t = bobs.data.createOrder.consistencyToken;
      for (const query of ['alice', aliceOrder.orderId, 'berlin', '']) {
        const r = await gql(
          `query($q: String!, $t: ConsistencyToken) { searchOrders(query: $q, after: $t) { total items { customerId } } }`,
          { q: query, t },
          bob,
        );
        expect(r.errors).toBeUndefined();
        expect(r.data.searchOrders.items.every((o: { customerId: string }) => o.customerId === 'bob')).toBe(true);
      }
      const all = await gql(`query($t: ConsistencyToken) { searchOrders(query: "", after: $t) { items { customerId } } }`, { t }, admin);
      expect(new Set(all.data.searchOrders.items.map((o: { customerId: string }) => o.customerId))).toEqual(new Set(['alice', 'bob']));
    });

    it('every mutation on another customer’s order, or for another customer, is FORBIDDEN and changes nothing', async () => {
      const before = await gql(`query($id: ID!) { order(id: $id) { version } }`, { id: aliceOrder.orderId }, admin);
      const id = aliceOrder.orderId;
      const cases = [
        [CREATE, { input: { customerId: 'alice', items: [{ productId: 'p', quantity: 1, unitPrice: '1' }], shippingAddress: address } }],
        [`mutation($id: ID!) { addOrderItem(input: { orderId: $id, productId: "x", quantity: 1, unitPrice: 1 }) { version } }`, { id }],
        [`mutation($id: ID!) { cancelOrder(input: { orderId: $id, reason: "mine now" }) { version } }`, { id }],
        [`mutation($id: ID!) { shipOrder(input: { orderId: $id }) { version } }`, { id }],
      ] as const;
      for (const [query, variables] of cases) expect(codeOf(await gql(query, variables, bob)), query).toBe('FORBIDDEN');
      const after = await gql(`query($id: ID!) { order(id: $id) { version } }`, { id }, admin);
      expect(after.data.order.version).toBe(before.data.order.version);
    });

    it('orderChanged refuses another customer’s order; projectionProgress is open to customers', async () => {
      const sub = await s.subscribe(
        `subscription($id: ID!) { orderChanged(id: $id) { id } }`,
        { id: aliceOrder.orderId },
        { client: s.wsClient(bob) },
      );
      expect(JSON.stringify(sub.errors)).toMatch(/FORBIDDEN/);
      const progress = await s.subscribe(
        `subscription($t: ConsistencyToken) { projectionProgress(until: $t) { caughtUp } }`,
        { t: aliceOrder.consistencyToken },
        { client: s.wsClient(bob) },
      );
      expect(progress.errors).toBeUndefined();
    });

    it('projection operations are for admins', async () => {
      for (const query of [
        `{ projections { name } }`,
        `mutation { pauseProjection(name: "orders") { state } }`,
        `mutation { resumeProjection(name: "orders") { state } }`,
        `mutation { rebuildProjection(name: "orders") { state } }`,
      ]) {
        expect(codeOf(await gql(query, undefined, alice)), query).toBe('FORBIDDEN');
      }
      expect(
        (await gql(`{ projections { name state } }`, undefined, admin)).data.projections.every(
          (p: { state: string }) => p.state === 'RUNNING',
        ),
      ).toBe(true);
    });
  });

  describe('limits, checked before execution', () => {
    it('depth over 10 is refused; the standard introspection query is accepted; circular introspection is refused', async () => {
      const deep = `{ __schema { types { fields { type { ofType { name } } } } } }`;
      expect((await gql(deep, undefined, admin)).errors).toBeUndefined(); // ofType chains count once
      const tooDeep = `{ __type(name: "Order") { fields { type { fields { type { fields { type { fields { type { fields { name } } } } } } } } } } }`;
      const r = await gql(tooDeep, undefined, admin);
      expect(r.status).toBe(400);
      expect(r.errors?.map((e) => e.message).join(' ')).toMatch(/depth|Circular/i);
      const intro = await gql(getIntrospectionQuery(), undefined, admin);
      expect(intro.errors).toBeUndefined();
      expect(intro.data.__schema.types.length).toBeGreaterThan(10);
      const circular = await gql(`{ __schema { types { fields { type { fields { name } } } } } }`, undefined, admin);
      expect(circular.errors?.[0]?.message).toMatch(/Circular introspection/);
    });

    it('more than 20 aliases, more than 20 directives or more than 2,000 tokens are refused', async () => {
      const aliases = `{ ${Array.from({ length: 21 }, (_, i) => `a${i}: __typename`).join(' ')} }`;
      expect((await gql(aliases, undefined, admin)).errors?.[0]?.message).toMatch(/alias/i);
      const directives = `{ __typename ${'@include(if: true) '.repeat(21)} }`;
      expect((await gql(directives, undefined, admin)).errors?.[0]?.message).toMatch(/directive/i);
      const tokens = `{ ${'__typename '.repeat(2100)} }`;
      expect((await gql(tokens, undefined, admin)).errors?.[0]?.message).toMatch(/token/i);
      const ok = `{ ${Array.from({ length: 20 }, (_, i) => `a${i}: __typename`).join(' ')} }`;
      expect((await gql(ok, undefined, admin)).errors).toBeUndefined();
    });

    it('holds the same limits over WebSocket', async () => {
      const client = s.wsClient(admin);
      const aliases = `query { ${Array.from({ length: 21 }, (_, i) => `a${i}: __typename`).join(' ')} }`;
      const r = await s.subscribe(aliases, undefined, { client });
      expect(JSON.stringify(r.errors)).toMatch(/alias/i);
      const tokens = await s.subscribe(`query { ${'__typename '.repeat(2100)} }`, undefined, { client });
      expect(JSON.stringify(tokens.errors)).toMatch(/token/i);
      const circular = await s.subscribe(`query { __schema { types { fields { type { fields { name } } } } } }`, undefined, { client });
      expect(JSON.stringify(circular.errors)).toMatch(/Circular introspection/);
    });

    it('a WebSocket message over 1 MiB closes the socket with 1009', async () => {
      const code = await new Promise<number>((resolve) => {
        const socket = new WebSocket(s.wsUrl, 'graphql-transport-ws');
        socket.on('open', () => {
          socket.send(JSON.stringify({ type: 'connection_init', payload: admin }));
          socket.send(
            JSON.stringify({
              id: '1',
              type: 'subscribe',
              payload: { query: `{ __typename }`, variables: { big: 'x'.repeat(1024 * 1024 + 10) } },
            }),
          );
        });
        socket.on('close', (c) => resolve(c));
      });
      expect(code).toBe(1009);
    });
  });

  describe('the graphql-cop checks and malformed requests', () => {
    it('refuses batched queries', async () => {
      const r = await raw({
        method: 'POST',
        headers: { 'content-type': 'application/json', ...admin },
        body: JSON.stringify([{ query: '{ __typename }' }, { query: '{ __typename }' }]),
      });
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
    });

    it('refuses field duplication beyond the token limit', async () => {
      const r = await gql(`{ order(id: "x") { ${'id '.repeat(2500)} } }`, undefined, admin);
      expect(r.errors?.[0]?.message).toMatch(/token/i);
    });

    it('refuses mutations over GET (405) and urlencoded or other non-JSON POSTs (415)', async () => {
      const mutation = encodeURIComponent(`mutation { shipOrder(input: { orderId: "${aliceOrder.orderId}" }) { version } }`);
      expect((await raw({ path: `/graphql?query=${mutation}`, headers: admin })).status).toBe(405);
      const form = await raw({
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...admin },
        body: `query=${mutation}`,
      });
      expect(form.status).toBe(415);
      for (const type of ['text/plain', 'multipart/form-data; boundary=x', 'application/xml']) {
        expect((await raw({ method: 'POST', headers: { 'content-type': type, ...admin }, body: '{}' })).status, type).toBe(415);
      }
      const order = await gql(`query($id: ID!) { order(id: $id) { status } }`, { id: aliceOrder.orderId }, admin);
      expect(order.data.order.status).toBe('PLACED');
    });

    it('answers malformed JSON with 400 and an oversized body with 413', async () => {
      expect(
        (await raw({ method: 'POST', headers: { 'content-type': 'application/json', ...admin }, body: '{"query": "{ __typename }"' }))
          .status,
      ).toBe(400);
      const big = JSON.stringify({ query: '{ __typename }', variables: { x: 'y'.repeat(1024 * 1024) } });
      expect((await raw({ method: 'POST', headers: { 'content-type': 'application/json', ...admin }, body: big })).status).toBe(413);
      // Without a content-length (chunked), the limit holds while reading.
      const chunked = await new Promise<number>((resolve, reject) => {
        const req = httpRequest(s.url, { method: 'POST', headers: { 'content-type': 'application/json', ...admin } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        for (let i = 0; i < 20; i++) req.write('x'.repeat(64 * 1024));
        req.end();
      });
      expect(chunked).toBe(413);
      // App.fetch (embedding, no HTTP server in front) holds the same limit.
      const viaFetch = (body: string) =>
        s.app.fetch(new Request(s.url, { method: 'POST', headers: { 'content-type': 'application/json', ...admin }, body }));
      const refused = await viaFetch(big);
      expect(refused.status).toBe(413);
      expect(await refused.json()).toMatchObject({ errors: [{ extensions: { code: 'PAYLOAD_TOO_LARGE' } }] });
      const small = await viaFetch(JSON.stringify({ query: '{ __typename }' }));
      expect(small.status).toBe(200);
      expect(await small.json()).toEqual({ data: { __typename: 'Query' } });
    });

    it('survives deep nesting in variables and in the query', async () => {
      for (const deep of [`${'['.repeat(100_000)}${']'.repeat(100_000)}`, `${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}`]) {
        const body = `{"query":"query($v: ID!) { order(id: $v) { id } }","variables":{"v":${deep}}}`;
        const r = await raw({
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...admin },
          body,
        });
        expect(r.status).toBe(400);
        expect(JSON.parse(r.text).errors[0].extensions.code).toBe('BAD_USER_INPUT');
      }
      const deepQuery = `{ ${'order(id: "x") { '.repeat(50)}id${' }'.repeat(50)} }`;
      const q = await gql(deepQuery, undefined, admin);
      expect(q.status).toBe(400);
    });

    it('gives no field suggestions, introspection or GraphiQL in production; GRAPHIQL=on brings them back', async () => {
      const prod = await startTestServer({ JWT_SECRET: TEST_SECRET, NODE_ENV: 'production' });
      try {
        const typo = await prod.gql(`{ ordr(id: "x") { id } }`, undefined, admin);
        expect(JSON.stringify(typo.errors)).not.toMatch(/Did you mean/);
        const intro = await prod.gql(`{ __schema { types { name } } }`, undefined, admin);
        expect(intro.errors?.[0]?.message).toMatch(/introspection/i);
        // A browser gets a line saying GraphiQL is off and how to turn it on, not the page.
        const page = await fetch(prod.url, { headers: { accept: 'text/html' } });
        const text = await page.text();
        expect(text).not.toMatch(/<html|<script/i);
        expect(text).toMatch(/GraphiQL is off.*GRAPHIQL=on/s);
      } finally {
        await prod.close();
      }
      const dev = await gql(`{ ordr(id: "x") { id } }`, undefined, admin);
      expect(dev.errors?.[0]?.message).toMatch(/Did you mean "order"/);
    });

    it('leaks no debug or trace information, whatever the kind of error', async () => {
      const failing: [string, Record<string, unknown> | undefined, Record<string, string>][] = [
        ['{ order(id: "x") { id ', undefined, admin], // syntax
        ['{ order(id: "x") { nope } }', undefined, admin], // validation
        ['query($n: Int) { customerOrders(customerId: "alice", pageSize: $n) { total } }', { n: 'many' }, admin], // variables
        ['{ customerOrders(customerId: "alice", pageSize: 1000) { total } }', undefined, admin], // input rules
        [`{ order(id: "${aliceOrder.orderId}") { id } }`, undefined, bob], // authorization
        ['mutation { shipOrder(input: { orderId: "no-such-order" }) { version } }', undefined, admin], // not found
      ];
      for (const [query, variables, headers] of failing) {
        const r = await gql(query, variables, headers);
        expect(r.errors?.length, query).toBeGreaterThan(0);
        expect(r.extensions ?? {}).toEqual({});
        for (const error of r.errors!) {
          expect(
            Object.keys(error.extensions ?? {}).filter((k) => !['code', 'issues'].includes(k)),
            query,
          ).toEqual([]);
        }
        expect(JSON.stringify(r)).not.toMatch(/stack|trace|originalError|node_modules|\.ts:\d/i);
      }
    });
  });

  describe('input hygiene: BAD_USER_INPUT and nothing stored', () => {
    it('refuses NUL characters, over-long strings, numbers out of range and malformed tokens', async () => {
      const before = await aliceOrders();
      const input = (overrides: Record<string, unknown>) => ({
        input: { customerId: 'alice', items: [{ productId: 'p', quantity: 1, unitPrice: '1' }], shippingAddress: address, ...overrides },
      });
      const bad = [
        input({ customerId: 'ali\u0000ce' }),
        input({ items: [{ productId: 'p\u0000', quantity: 1, unitPrice: '1' }] }),
        input({ shippingAddress: { ...address, city: 'x'.repeat(201) } }),
        input({ shippingAddress: { ...address, line1: 'a\u0000' } }),
        input({ customerId: 'a'.repeat(101) }),
        input({ items: [{ productId: 'p', quantity: 2 ** 40, unitPrice: '1' }] }),
        input({ items: [{ productId: 'p', quantity: 10_001, unitPrice: '1' }] }),
        input({ items: [{ productId: 'p', quantity: 1, unitPrice: '1000000000000' }] }),
        input({ items: [{ productId: 'p', quantity: 1, unitPrice: 1e300 }] }),
      ];
      for (const variables of bad) {
        const r = await gql(CREATE, variables, alice);
        expect(codeOf(r), JSON.stringify(variables).slice(0, 200)).toBe('BAD_USER_INPUT');
        expect(r.errors?.[0]?.extensions?.issues?.length).toBeGreaterThan(0);
      }
      const reason = await gql(
        `mutation($r: String!, $id: ID!) { cancelOrder(input: { orderId: $id, reason: $r }) { version } }`,
        { id: aliceOrder.orderId, r: 'x'.repeat(501) },
        alice,
      );
      expect(codeOf(reason)).toBe('BAD_USER_INPUT');
      const token = await gql(`{ order(id: "x", after: "c1.zz.zzzzzzzzzzzzzz") { id } }`, undefined, alice);
      expect(codeOf(token)).toBe('BAD_USER_INPUT');
      const search = await gql(`query($q: String!) { searchOrders(query: $q) { total } }`, { q: 'a\u0000' }, alice);
      expect(codeOf(search)).toBe('BAD_USER_INPUT');
      expect(await aliceOrders()).toBe(before);
      const order = await gql(`query($id: ID!) { order(id: $id) { status } }`, { id: aliceOrder.orderId }, admin);
      expect(order.data.order.status).toBe('PLACED');
    });
  });

  it('still answers /health and a normal query afterwards, and no error leaked SQL, a stack frame or a path', async () => {
    expect((await fetch(`${s.origin}/health`)).status).toBe(200);
    const r = await gql(`query($id: ID!) { order(id: $id) { id } }`, { id: aliceOrder.orderId }, alice);
    expect(r.data.order.id).toBe(aliceOrder.orderId);
    const leaks =
      /\b(select|insert|update|delete)\b.*\b(from|into|set)\b|relation "|syntax error at|\bat .+\(.+:\d+:\d+\)|\/work\/|node_modules|\.ts:\d+|\bpostgres(ql)?:\/\//i;
    const texts = seen.flatMap((r) => (r.errors ?? []).map((e) => JSON.stringify(e)));
    expect(texts.length).toBeGreaterThan(30);
    expect(texts.filter((t) => leaks.test(t))).toEqual([]);
  });
});

// The operator fields of the API (what the console shows beside the projections): the event log's head
// as a query and as a subscription, lag in seconds, a rebuild's progress, replicas, and who may see them.
// A started server on the suite's driver (PostgreSQL with TEST_DATABASE_URL, PGlite otherwise).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { driverName } from '../support/db.ts';
import { createOrderInput } from '../support/orders.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { bearer, signToken, TEST_SECRET } from '../support/tokens.ts';

const CREATE = `mutation($input: CreateOrderInput!) { createOrder(input: $input) { consistencyToken } }`;
const input = (customerId: string) => ({ input: createOrderInput({ customerId }) });
const LOG = `eventLog { head headAt appendedEvents sampledAt }`;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe(`operator fields on ${driverName}`, () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(() => s.close());

  const create = async (customerId: string) => {
    const r = await s.gql(CREATE, input(customerId));
    expect(r.errors).toBeUndefined();
    return r.data.createOrder.consistencyToken as string;
  };
  const caughtUp = (token: string, projections?: string[]) =>
    s.subscribe(`subscription($t: ConsistencyToken, $p: [String!]) { projectionProgress(projections: $p, until: $t) { caughtUp } }`, {
      t: token,
      p: projections,
    });

  it("eventLog: an empty log has no head; after appends, the head is the last event's token and the count has grown", async () => {
    const empty = await s.gql(`{ ${LOG} }`);
    expect(empty.data.eventLog).toEqual({ head: null, headAt: null, appendedEvents: 0, sampledAt: expect.stringMatching(ISO) });
    await create('log-1');
    const token = await create('log-2');
    await caughtUp(token); // the fulfilment process has handled both (it appends nothing for them)
    const after = await s.gql(`{ ${LOG} }`);
    expect(after.data.eventLog).toMatchObject({ head: token, headAt: expect.stringMatching(ISO), appendedEvents: 2 });
    expect(Date.parse(after.data.eventLog.sampledAt)).toBeGreaterThanOrEqual(Date.parse(after.data.eventLog.headAt));
  });

  it('the eventLog subscription sends a sample at once, then the head moving with appends', async () => {
    const client = s.wsClient();
    const samples: { head: string | null; appendedEvents: number }[] = [];
    const seen = (check: () => boolean) =>
      new Promise<void>((resolve) => {
        const look = () => (check() ? resolve() : setTimeout(look, 10));
        look();
      });
    const unsubscribe = client.subscribe<{ eventLog: { head: string | null; appendedEvents: number } }>(
      { query: `subscription { eventLog { head appendedEvents } }` },
      { next: (m) => samples.push(m.data!.eventLog), error: () => {}, complete: () => {} },
    );
    try {
      await seen(() => samples.length >= 1);
      const first = samples[0]!;
      const token = await create('moving');
      await seen(() => samples.some((sample) => sample.head === token));
      expect(samples.at(-1)!.appendedEvents).toBe(first.appendedEvents + 1);
    } finally {
      unsubscribe();
    }
  });

  it('lagSeconds grows with the oldest event a paused projection has not processed; rebuildLagEvents while REBUILDING', async () => {
    await s.gql(`mutation { pauseProjection(name: "customer_summaries") { state } }`);
    const token = await create('lagging');
    await caughtUp(token, ['orders', 'fulfilment']);
    const status = async () =>
      (await s.gql(`{ projections { name state lagEvents lagSeconds rebuildLagEvents } }`)).data.projections.find(
        (p: any) => p.name === 'customer_summaries',
      );
    const first = await status();
    expect(first).toMatchObject({ state: 'PAUSED', lagEvents: 1, rebuildLagEvents: null });
    const later = await status();
    expect(later.lagSeconds).toBeGreaterThan(0);
    expect(later.lagSeconds).toBeGreaterThanOrEqual(first.lagSeconds);
    const running = (await s.gql(`{ projections { name lagSeconds } }`)).data.projections.find((p: any) => p.name === 'orders');
    expect(running.lagSeconds).toBe(0);

    // Its new copy starts from the first event: it has at most every event still to process.
    const rebuilding = await s.gql(`mutation { rebuildProjection(name: "customer_summaries") { state rebuildLagEvents } }`);
    expect(rebuilding.errors).toBeUndefined();
    expect(rebuilding.data.rebuildProjection.state).toBe('REBUILDING');
    const all = (await s.gql(`{ eventLog { appendedEvents } }`)).data.eventLog.appendedEvents;
    expect(rebuilding.data.rebuildProjection.rebuildLagEvents).toBeGreaterThanOrEqual(0);
    expect(rebuilding.data.rebuildProjection.rebuildLagEvents).toBeLessThanOrEqual(all);
    const deadline = Date.now() + 20_000;
    let swapped = await status();
    while (swapped.state === 'REBUILDING' && Date.now() < deadline) swapped = await status();
    expect(swapped).toMatchObject({ state: 'RUNNING', lagEvents: 0, lagSeconds: 0, rebuildLagEvents: null });
  });

  it('replicas: none without DATABASE_REPLICA_URLS', async () => {
    expect((await s.gql(`{ replicas { name state lagSeconds reason } }`)).data).toEqual({ replicas: [] });
  });
});

describe(`operator fields with JWT_SECRET on ${driverName}`, () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ JWT_SECRET: TEST_SECRET });
  });
  afterAll(() => s.close());

  it('an admin sees them; a customer gets FORBIDDEN, over HTTP and over WebSocket; no token is UNAUTHENTICATED', async () => {
    const admin = bearer(await signToken({ sub: 'ops', roles: ['admin'] }));
    const customer = bearer(await signToken({ sub: 'c-1', roles: ['customer'] }));
    const everything = `{ ${LOG} replicas { name } projections { name lagSeconds } }`;
    expect((await s.gql(everything, undefined, admin)).errors).toBeUndefined();
    for (const field of [`{ ${LOG} }`, `{ replicas { name } }`]) {
      const refused = await s.gql(field, undefined, customer);
      expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
    expect((await s.gql(`{ ${LOG} }`)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const sub = await s.subscribe(`subscription { eventLog { head } }`, undefined, { client: s.wsClient(customer) });
    expect(sub.events).toEqual([]);
    expect((sub.errors as any[])[0]).toMatchObject({ extensions: { code: 'FORBIDDEN' } });
    const allowed = await s.subscribe(`subscription { eventLog { appendedEvents } }`, undefined, { client: s.wsClient(admin), take: 1 });
    expect(allowed.events).toEqual([{ eventLog: { appendedEvents: 0 } }]);
  });
});

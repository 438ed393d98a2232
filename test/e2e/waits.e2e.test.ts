// Waits cannot be turned against the server: a token ahead of the event log is refused at once
// (argument, session token, subscription), and beyond CONSISTENCY_MAX_WAITS a query answers stale at
// once instead of queueing, counted in /metrics.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeToken } from '../../src/core/position.ts';
import { driverName } from '../support/db.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const address = { line1: '1 Main St', city: 'Berlin', postalCode: '10115', country: 'DE' };
const CREATE = `mutation($input: CreateOrderInput!) { createOrder(input: $input) { orderId consistencyToken } }`;
const input = { customerId: 'waits-1', items: [{ productId: 'p', quantity: 1, unitPrice: '1.00' }], shippingAddress: address };
const FORGED = encodeToken({ tx: 10n ** 12n, pos: 10n ** 12n });

describe(`waits on ${driverName}`, () => {
  let s: TestServer;
  beforeAll(async () => {
    // A timeout far longer than the test's: a forged token that were waited for would time the test out.
    s = await startTestServer({ CONSISTENCY_TIMEOUT_MS: '120000', CONSISTENCY_MAX_WAITS: '2' });
  });
  afterAll(() => s.close());

  const metric = async (line: string) => {
    const text = await (await fetch(`${s.origin}/metrics`)).text();
    return Number(
      text
        .split('\n')
        .find((l) => l.startsWith(line))
        ?.split(' ')
        .at(-1) ?? NaN,
    );
  };

  it('a token ahead of the log is BAD_USER_INPUT at once, as an argument and as the session token', async () => {
    const argument = await s.gql(`query($t: ConsistencyToken) { order(id: "x", after: $t) { id } }`, { t: FORGED });
    expect(argument.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      issues: [{ path: ['after'], message: expect.stringMatching(/ahead of the event log/) }],
    });

    const response = await fetch(s.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query: `{ customerOrders(customerId: "waits-1") { total } }`,
        extensions: { consistency: { after: FORGED } },
      }),
    });
    const session = (await response.json()) as { errors?: { extensions: Record<string, unknown> }[] };
    expect(session.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      issues: [{ path: ['extensions', 'consistency', 'after'], message: expect.stringMatching(/ahead of the event log/) }],
    });

    const subscription = await s.subscribe(`subscription($t: ConsistencyToken) { projectionProgress(until: $t) { caughtUp } }`, {
      t: FORGED,
    });
    expect(JSON.stringify(subscription.errors)).toMatch(/BAD_USER_INPUT/);
  });

  it('a real token this process has not seen yet is read from the log, not refused', async () => {
    const created = await s.gql(CREATE, { input });
    const token = created.data.createOrder.consistencyToken as string;
    const read = await s.gql(`query($id: ID!, $t: ConsistencyToken) { order(id: $id, after: $t) { id } }`, {
      id: created.data.createOrder.orderId,
      t: token,
    });
    expect(read.errors).toBeUndefined();
    expect(read.data.order.id).toBe(created.data.createOrder.orderId);
  });

  it('beyond CONSISTENCY_MAX_WAITS a query answers stale at once, and /metrics counts it', async () => {
    await s.gql(`mutation { pauseProjection(name: "orders") { state } }`);
    try {
      const created = await s.gql(CREATE, { input });
      const { orderId, consistencyToken } = created.data.createOrder;
      const read = () =>
        s.gql(`query($id: ID!, $t: ConsistencyToken) { order(id: $id, after: $t) { id } }`, { id: orderId, t: consistencyToken });
      const waiting = [read(), read()];
      for (let i = 0; (await metric('converge_consistency_waits ')) < 2; i++) {
        if (i > 200) throw new Error('the two reads never waited');
        await new Promise((r) => setTimeout(r, 20));
      }
      const refusedBefore = await metric('converge_consistency_waits_refused_total');
      const third = await read();
      expect(third.extensions?.consistency).toMatchObject({ stale: true });
      expect(await metric('converge_consistency_waits_refused_total')).toBe(refusedBefore + 1);
      await s.gql(`mutation { resumeProjection(name: "orders") { state } }`);
      for (const done of await Promise.all(waiting)) {
        expect(done.extensions?.consistency?.stale).toBeUndefined();
        expect(done.data.order.id).toBe(orderId);
      }
    } finally {
      await s.gql(`mutation { resumeProjection(name: "orders") { state } }`);
    }
  });
});

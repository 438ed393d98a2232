// Live queries end to end (issue 30): `@live` query operations over graphql-ws and SSE, each field pushed
// after a change of what it read and not after an unrelated one, bursts coalesced, identical ones sharing
// one execution, access lost mid-stream, a leaving client's resources freed, and a projection rebuild.
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { comparePositions, decodeToken } from '../../src/core/position.ts';
import { driverName } from '../support/db.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { bearer, signToken, TEST_SECRET } from '../support/tokens.ts';

type Result = { data?: any; errors?: any[]; extensions?: any };

const address = { line1: '1 Main St', city: 'Berlin', postalCode: '10115', country: 'DE' };
const CREATE = `mutation($input: CreateOrderInput!) { createOrder(input: $input) { orderId consistencyToken } }`;
const ADD = `mutation($input: AddOrderItemInput!) { addOrderItem(input: $input) { consistencyToken } }`;
const SHIP = `mutation($input: ShipOrderInput!) { shipOrder(input: $input) { consistencyToken } }`;
const CREATE_PRODUCT = `mutation($input: CreateProductInput!) { createProduct(input: $input) { consistencyToken } }`;
const RESTOCK = `mutation($input: RestockProductInput!) { restockProduct(input: $input) { consistencyToken } }`;

/** Waits for `check` to hold, polling: a live result arrives when the server has handled a change. */
async function until<T>(what: string, check: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  for (const deadline = Date.now() + timeoutMs; ; await new Promise((r) => setTimeout(r, 10))) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
  }
}

/** A live query's results as they arrive, over graphql-ws or SSE. */
type LiveStream = { results: Result[]; ended: Promise<void>; stop(): void; next(after: number, what?: string): Promise<Result> };

function collect(results: Result[], ended: Promise<void>, stop: () => void): LiveStream {
  return {
    results,
    ended,
    stop,
    next: (after, what = 'a live result') => until(what, () => results.length > after && results[after]),
  };
}

function liveOverWs(client: Client, query: string, variables?: Record<string, unknown>): LiveStream {
  const results: Result[] = [];
  let unsubscribe = () => {};
  const ended = new Promise<void>((resolve) => {
    unsubscribe = client.subscribe(
      { query, variables },
      { next: (value) => void results.push(value as Result), error: () => resolve(), complete: () => resolve() },
    );
  });
  return collect(results, ended, unsubscribe);
}

function liveOverSse(url: string, query: string, variables?: Record<string, unknown>, headers: Record<string, string> = {}): LiveStream {
  const results: Result[] = [];
  const controller = new AbortController();
  const ended = (async () => {
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
        body: JSON.stringify({ query, variables }),
        signal: controller.signal,
      });
      let buffer = '';
      const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
      for (let read = await reader.read(); !read.done; read = await reader.read()) {
        buffer += read.value;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const event = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = /^data: (.+)$/m.exec(event)?.[1];
          if (data && /^event: next$/m.test(event)) results.push(JSON.parse(data));
        }
      }
    } catch {
      // aborted by stop()
    }
  })();
  return collect(results, ended, () => controller.abort());
}

const atOrAfter = (a: string, b: string) => comparePositions(decodeToken(a), decodeToken(b)) >= 0;

describe(`live queries on ${driverName}`, () => {
  let s: TestServer;
  let client: Client;
  beforeAll(async () => {
    s = await startTestServer();
    client = s.wsClient();
  });
  afterAll(() => s.close());

  const gql = async (query: string, variables?: Record<string, unknown>, headers?: Record<string, string>) => {
    const r = await s.gql(query, variables, headers);
    expect(r.errors, query).toBeUndefined();
    return r.data;
  };
  const createOrder = async (customerId: string, city = 'Berlin') =>
    (
      await gql(CREATE, {
        input: { customerId, items: [{ productId: 'p-1', quantity: 1, unitPrice: '2.00' }], shippingAddress: { ...address, city } },
      })
    ).createOrder as { orderId: string; consistencyToken: string };
  const addItem = async (orderId: string) =>
    (await gql(ADD, { input: { orderId, productId: 'p-2', quantity: 1, unitPrice: '1.00' } })).addOrderItem.consistencyToken as string;
  /** Once the live queries have been handed every change up to `token` of `projection` (and the runs they caused are done). */
  const handled = async (projection: string, token: string) => {
    await until(`${projection} handled`, () => {
      const at = s.app.live.handledUpTo(projection);
      return at !== null && comparePositions(at, decodeToken(token)) >= 0;
    });
  };
  const runs = () => s.app.live.stats().runs;

  it('order(id) with fulfilment: pushed when the order changes, with a token not older than the change; not after another order changes', async () => {
    const a = await createOrder('live-c1');
    const b = await createOrder('live-c2');
    const live = liveOverWs(client, `query($id: ID!) @live { order(id: $id) { id version status fulfilment } }`, { id: a.orderId });
    // null until `orders` has projected it (createOrder did not wait), then pushed.
    const first = await until('the order', () => live.results.find((r) => r.data.order));
    expect(first.data.order).toMatchObject({ id: a.orderId, version: 1 });
    expect(first.extensions.consistency.token).toMatch(/^c1\./);
    // The fulfilment process reserves (nothing is stock-controlled): pushed once it has.
    await until('RESERVED', () => live.results.at(-1)?.data.order.fulfilment === 'RESERVED');
    await handled('orders', a.consistencyToken);
    const before = runs();
    const seen = live.results.length;
    await handled('orders', await addItem(b.orderId));
    expect(runs()).toBe(before);
    expect(live.results.length).toBe(seen);
    const changed = await addItem(a.orderId);
    const next = await live.next(seen, 'the order after its change');
    expect(next.data.order).toMatchObject({ id: a.orderId, version: 2 });
    expect(atOrAfter(next.extensions.consistency.token, changed)).toBe(true);
    live.stop();
  });
});

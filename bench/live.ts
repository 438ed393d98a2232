// Scenario `live`: live queries against orderChanged subscriptions, in the same run, on one server child
// each (bench/server.ts), on PostgreSQL. Live: LIVE_CUSTOMER_QUERIES (1000) live customerOrders over
// LIVE_CUSTOMERS (50) customers (pageSize 100: every order of the customer) and LIVE_ORDER_QUERIES (2000)
// live order(id), one per order; baseline: as many orderChanged subscriptions (one per order, the rest
// spread over the orders again). Both over LIVE_SOCKETS (100) WebSockets, while a writer changes
// LIVE_RATE (200) orders a second (addOrderItem, one change in flight per order) for DURATION_S.
// Measured per mode: change-to-delivery p50/p99 (the mutation sent to each client's first result that
// shows it), every change delivered to every client (its last result shows each order's last version),
// server CPU per delivered result, RSS per live query or subscription. Modes alternate LIVE_ROUNDS (1)
// times. Goal (issue 30): every change delivered, live p99 <= 2x orderChanged's.
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import {
  databaseUrl,
  env,
  log,
  percentile,
  positiveNumber,
  round,
  type BenchContext,
  type Measurement,
  type ScenarioOutcome,
  idNotInFlight,
  peakRssUntil,
} from './lib.ts';
import { createClient, dataOf, prepareDatabase, startChild } from './server.ts';

const CREATE = `mutation($input: CreateOrderInput!) { createOrder(input: $input) { orderId } }`;
const ADD = `mutation($input: AddOrderItemInput!) { addOrderItem(input: $input) { version } }`;
const LIVE_ORDER = `query($id: ID!) @live { order(id: $id) { id version } }`;
const LIVE_CUSTOMER = `query($c: ID!) @live { customerOrders(customerId: $c, pageSize: 100) { items { id version } } }`;
const ORDER_CHANGED = `subscription($id: ID!) { orderChanged(id: $id) { id version } }`;
const MB = 1024 * 1024;

type Mode = 'live' | 'orderChanged';

/** A client's view: the versions it has seen of each order. */
type View = Map<string, number>;

export async function run(context: BenchContext): Promise<ScenarioOutcome> {
  const { config, record } = context;
  const customers = positiveNumber('LIVE_CUSTOMERS', '50', true);
  const customerQueries = positiveNumber('LIVE_CUSTOMER_QUERIES', '1000', true);
  const orderQueries = positiveNumber('LIVE_ORDER_QUERIES', '2000', true);
  const sockets = positiveNumber('LIVE_SOCKETS', '100', true);
  const rate = positiveNumber('LIVE_RATE', '200');
  const rounds = positiveNumber('LIVE_ROUNDS', '1', true);
  const url = databaseUrl(config.baseUrl, env('LIVE_DB', 'converge_live_bench'));
  const total = customerQueries + orderQueries;

  await prepareDatabase(url, config.poolMax);
  const ids: string[] = [];
  const customerOf = new Map<string, string>();
  {
    const server = await startChild(url, config.poolMax);
    const http = createClient(server.url, 16);
    try {
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (ids.length < orderQueries) {
            const customerId = `live-customer-${ids.length % customers}`;
            const input = {
              customerId,
              items: [{ productId: 'sku-0', quantity: 1, unitPrice: '1.00' }],
              shippingAddress: { line1: '1 Main St', city: 'Berlin', postalCode: '10115', country: 'DE' },
            };
            const id = (dataOf(await http.post(CREATE, { input }), 'create').createOrder as { orderId: string }).orderId;
            ids.push(id);
            customerOf.set(id, customerId);
          }
        }),
      );
    } finally {
      http.close();
      await server.stop();
    }
  }
  const versions = new Map(ids.map((id) => [id, 1]));

  const measurements: Measurement[] = [];
  const results: Record<Mode, Record<string, number | null>[]> = { live: [], orderChanged: [] };
  for (let round_ = 0; round_ < rounds; round_++) {
    for (const mode of ['live', 'orderChanged'] as const) {
      const outcome = await runMode(mode);
      results[mode].push(outcome);
      measurements.push(
        record(
          {
            system: 'converge',
            scenario: `live-${mode}`,
            concurrency: total,
            opsPerSec: outcome.changesPerSec ?? 0,
            p50ms: outcome.deliveryP50ms ?? null,
            p99ms: outcome.deliveryP99ms ?? null,
            ops: outcome.changes ?? 0,
            seconds: outcome.seconds ?? 0,
            errors: (outcome.errors ?? 0) + (outcome.writeErrors ?? 0),
            pool: config.poolMax,
          },
          { ...outcome, load1: Number(loadavg()[0]!.toFixed(2)) },
        ),
      );
      log(`${mode}: ${JSON.stringify(outcome)}`);
    }
  }
  const median = (mode: Mode, key: string) => {
    const values = results[mode]
      .map((r) => r[key])
      .filter((v): v is number => typeof v === 'number')
      .sort((a, b) => a - b);
    if (values.length === 0) return null;
    const middle = values.length / 2;
    return Number.isInteger(middle) ? round((values[middle - 1]! + values[middle]!) / 2, 3) : values[Math.floor(middle)]!;
  };
  const ratio = (key: string) => {
    const [a, b] = [median('live', key), median('orderChanged', key)];
    return a !== null && b ? round(a / b, 2) : null;
  };
  const line = (mode: Mode) =>
    `${mode.padEnd(12)} p50/p99 ${median(mode, 'deliveryP50ms')}/${median(mode, 'deliveryP99ms')} ms, ` +
    `${median(mode, 'changesPerSec')} changes/s, missing ${median(mode, 'missing')}, ` +
    `CPU ${median(mode, 'serverCpuMsPerDelivered')} ms per delivered result (${median(mode, 'delivered')}), ` +
    `RSS ${median(mode, 'rssKbPerClient')} KB per ${mode === 'live' ? 'live query' : 'subscription'}, ` +
    `bench client CPU ${median(mode, 'clientCpuMsPerSec')} ms/s`;
  return {
    measurements,
    summary: [
      `live (${customerQueries} live customerOrders over ${customers} customers + ${orderQueries} live order(id), against ${total} orderChanged; ${rate} changes/s; goal: none missing, live p99 <= 2x; load1 at the end ${loadavg()[0]!.toFixed(2)})`,
      line('live'),
      line('orderChanged'),
      `live / orderChanged: p99 ${ratio('deliveryP99ms')}x, CPU per delivered result ${ratio('serverCpuMsPerDelivered')}x, RSS per client ${ratio('rssKbPerClient')}x`,
    ].join('\n'),
  };

  async function runMode(mode: Mode): Promise<Record<string, number | null>> {
    const server = await startChild(url, config.poolMax);
    const http = createClient(server.url, 16);
    const ws: WsClient[] = [];
    const stops: (() => void)[] = [];
    try {
      await sleep(1500);
      const idleRss = (await server.rssBytes())!;
      for (let i = 0; i < sockets; i++)
        ws.push(createWsClient({ url: server.url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, retryAttempts: 0, lazy: false }));
      const sentAt = new Map<string, number>(); // `${id}@${version}` -> when the change was sent
      const latencies: number[] = [];
      const views: { view: View; orders: readonly string[] }[] = [];
      let delivered = 0;
      let errors = 0;
      const errorCodes = new Set<string>();
      let first = 0;
      /** A client saw `id` at `version`: its first sight of a change since it was sent is a delivery. */
      const saw = (view: View, id: string, version: number) => {
        const seen = view.get(id) ?? 0;
        if (version <= seen) return;
        view.set(id, version);
        for (let v = seen + 1; v <= version; v++) {
          const sent = sentAt.get(`${id}@${v}`);
          if (sent !== undefined) latencies.push(performance.now() - sent);
        }
      };
      const subscribe = (
        i: number,
        query: string,
        variables: Record<string, unknown>,
        orders: readonly string[],
        read: (data: any, view: View) => void,
      ) => {
        const view: View = new Map();
        views.push({ view, orders });
        let started = false;
        stops.push(
          ws[i % sockets]!.subscribe(
            { query, variables },
            {
              next: ({ data, errors: e }) => {
                if (e) {
                  errors++;
                  for (const error of e) errorCodes.add(String(error.extensions?.code ?? error.message));
                }
                if (!started) {
                  started = true;
                  first++;
                }
                delivered++;
                if (data) read(data, view);
              },
              error: (error) => {
                errors++;
                errorCodes.add(String((error as Error)?.message ?? error));
              },
              complete: () => {},
            },
          ),
        );
      };
      const byCustomer = new Map<string, string[]>();
      for (const id of ids) byCustomer.set(customerOf.get(id)!, [...(byCustomer.get(customerOf.get(id)!) ?? []), id]);
      const customerIds = [...byCustomer.keys()];
      if (mode === 'live') {
        ids.forEach((id, i) => {
          subscribe(i, LIVE_ORDER, { id }, [id], (data, view) => data.order && saw(view, id, data.order.version));
        });
        for (let i = 0; i < customerQueries; i++) {
          const c = customerIds[i % customerIds.length]!;
          subscribe(i, LIVE_CUSTOMER, { c }, byCustomer.get(c)!, (data, view) => {
            for (const item of data.customerOrders.items) saw(view, item.id, item.version);
          });
        }
      } else {
        for (let i = 0; i < total; i++) {
          const id = ids[i % ids.length]!;
          subscribe(i, ORDER_CHANGED, { id }, [id], (data, view) => saw(view, id, data.orderChanged.version));
        }
      }
      // Live queries answer at once; orderChanged sends nothing until a change: give it its first reads.
      const subscribeBy = performance.now() + 60_000;
      while (mode === 'live' && first < total && performance.now() < subscribeBy) await sleep(50);
      await sleep(Math.max(2000, total / 2));
      const subscribedRss = (await server.rssBytes())!;
      // orderChanged's clients start from the version they had when the change was sent.
      for (const { view, orders } of views) for (const id of orders) if (!view.has(id)) view.set(id, versions.get(id)!);
      delivered = 0;

      const inFlight = new Set<string>();
      const cpuBefore = (await server.cpuMs())!;
      const clientCpuBefore = process.cpuUsage();
      const started = performance.now();
      const deadline = started + config.durationS * 1000;
      let writeErrors = 0;
      let changes = 0;
      const writes: Promise<void>[] = [];
      const sampler = peakRssUntil(server, deadline, subscribedRss);
      for (let n = 0; performance.now() < deadline; n++) {
        const due = started + (n * 1000) / rate;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        const id = idNotInFlight(ids, inFlight);
        if (id === undefined) continue;
        inFlight.add(id);
        const version = versions.get(id)! + 1;
        versions.set(id, version);
        sentAt.set(`${id}@${version}`, performance.now());
        writes.push(
          http
            .post(ADD, { input: { orderId: id, productId: `p-${n}`, quantity: 1, unitPrice: '1.00' } })
            .then((response) => {
              dataOf(response, 'addOrderItem');
              changes++;
            })
            .catch(() => void writeErrors++)
            .finally(() => inFlight.delete(id)),
        );
      }
      await Promise.all(writes);
      const peakRss = await sampler;
      const seconds = (performance.now() - started) / 1000;
      const missing = () => views.filter(({ view, orders }) => orders.some((id) => (view.get(id) ?? 0) < versions.get(id)!)).length;
      const settleBy = performance.now() + 15_000;
      while (missing() > 0 && performance.now() < settleBy) await sleep(100);
      const cpuMs = (await server.cpuMs())! - cpuBefore;
      const clientCpu = process.cpuUsage(clientCpuBefore);
      latencies.sort((a, b) => a - b);
      if (errorCodes.size > 0) log(`${mode}: errors ${[...errorCodes].join(', ')}`);
      return {
        clients: total,
        changes,
        seconds: round(seconds, 3),
        changesPerSec: round(changes / seconds, 1),
        deliveryP50ms: round(percentile(latencies, 50), 1),
        deliveryP99ms: round(percentile(latencies, 99), 1),
        deliveries: latencies.length,
        delivered,
        missing: missing(),
        errors,
        writeErrors,
        idleRssMb: round(idleRss / MB, 1),
        subscribedRssMb: round(subscribedRss / MB, 1),
        peakRssMb: round(peakRss / MB, 1),
        rssKbPerClient: round((subscribedRss - idleRss) / total / 1024, 2),
        serverCpuMsPerDelivered: delivered > 0 ? round(cpuMs / delivered, 3) : null,
        // The bench's own process receives every client's results: on a busy machine it adds to the latency.
        clientCpuMsPerSec: round((clientCpu.user + clientCpu.system) / 1000 / ((performance.now() - started) / 1000), 1),
      };
    } finally {
      for (const stop of stops) stop();
      await Promise.all(ws.map((c) => c.dispose()));
      http.close();
      await server.stop();
    }
  }
}

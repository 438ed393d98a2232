// One trace from the mutation to the read that waited for it (README, Tracing): two Converge apps on one
// database, B serving only (PROJECTIONS=off), A running the projections and the fulfilment process, both
// exporting to the SDK's in-memory exporter. A client sends createOrder and then an `after:` read to B
// under one traceparent; B's read waits until A has run, so the trace must hold the request, command,
// decision and append spans, the process manager's commands as children of the order's command, the
// projection steps linked to it, and the wait, linked to the steps that ended it. Log lines written in a
// span carry its ids; no span carries the shipping address.
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-node';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import type { Logger } from '../../src/core/logger.ts';
import { type RunningTracing, startTracing, traceLogFields } from '../../src/infra/observability/tracing.ts';
import { TEST_DATA_KEY_SECRET } from '../../src/infra/privacy/master-key.ts';
import { createTestDatabase, driverName, onPostgres, type TestDatabase } from '../support/db.ts';
import { untilWithin } from '../support/until.ts';

const ADDRESS = { line1: '7 Secret Lane', city: 'Hiddenville', postalCode: 'ZZ-90210', country: 'DE' };

const until = untilWithin({ timeoutMs: 30_000, intervalMs: 20 });

/** The spans as an indented tree (children under parents, links named), for README's picture: PRINT_TRACE=1. */
function render(spans: ReadableSpan[], root: string): string {
  const name = new Map(spans.map((s) => [spanId(s), s.name]));
  const lines: string[] = [];
  const walk = (parent: string, depth: number) => {
    for (const s of spans
      .filter((x) => parentOf(x) === parent)
      .sort((a, b) => (a.startTime[0] - b.startTime[0]) * 1e9 + a.startTime[1] - b.startTime[1])) {
      const links = s.links.map((l) => name.get(l.context.spanId) ?? l.context.spanId).filter((n) => n !== undefined);
      const ms = ((s.endTime[0] - s.startTime[0]) * 1e3 + (s.endTime[1] - s.startTime[1]) / 1e6).toFixed(1);
      lines.push(`${'  '.repeat(depth)}${s.name}  ${ms} ms${links.length ? `  (links: ${[...new Set(links)].join(', ')})` : ''}`);
      walk(spanId(s), depth + 1);
    }
  };
  walk(root, 0);
  for (const s of spans.filter(
    (x) => x.spanContext().traceId !== spans.find((y) => parentOf(y) === root)?.spanContext().traceId && x.links.length > 0,
  )) {
    lines.push(`${s.name} (own trace)  links: ${[...new Set(s.links.map((l) => name.get(l.context.spanId) ?? '?'))].join(', ')}`);
  }
  return lines.join('\n');
}

const spanId = (span: ReadableSpan) => span.spanContext().spanId;
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
const linksOf = (span: ReadableSpan) => span.links.map((l) => l.context.spanId);

describe(`tracing across two apps (${driverName})`, () => {
  const exporter = new InMemorySpanExporter();
  const lines: Record<string, unknown>[] = [];
  let t: TestDatabase;
  let a: App;
  let b: App;
  let urlB = '';
  const tracings: RunningTracing[] = [];
  const traceId = randomBytes(16).toString('hex');
  const clientSpan = randomBytes(8).toString('hex');
  const traceparent = `00-${traceId}-${clientSpan}-01`;

  const app = async (env: Record<string, string>, log: Logger) => {
    const config = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      CONSISTENCY_TIMEOUT_MS: '30000',
      DATA_KEY_SECRET: TEST_DATA_KEY_SECRET,
      ...env,
    });
    config.database = t.options as typeof config.database;
    const tracing = await startTracing(undefined, { exporter });
    tracings.push(tracing);
    return buildApp(config, { log, tracing, database: onPostgres ? undefined : t.database });
  };
  const gql = async (query: string, variables?: object) => {
    const response = await fetch(urlB, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as { data?: any; errors?: unknown[] };
    expect(body.errors).toBeUndefined();
    return body.data;
  };

  beforeAll(async () => {
    t = await createTestDatabase();
    const sink = new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    });
    b = await app({ PROJECTIONS: 'off' }, pino({ level: 'info', mixin: traceLogFields }, sink));
    urlB = await b.start();
    a = await app({ PROJECTIONS: 'on' }, pino({ level: 'silent' }));
  });
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
    await Promise.all(tracings.map((tracing) => tracing.shutdown()));
    await t?.close();
  });

  it('createOrder then an after: read: one trace, parented and linked, across the two apps', async () => {
    await gql('mutation { createProduct(input: { sku: "kettle", name: "Kettle", onHand: 5 }) { consistencyToken } }');
    const created = await gql(
      `mutation CreateOrder($input: CreateOrderInput!) { createOrder(input: $input) { orderId consistencyToken } }`,
      { input: { customerId: 'c-1', items: [{ productId: 'kettle', quantity: 2, unitPrice: '10.00' }], shippingAddress: ADDRESS } },
    );
    const { orderId, consistencyToken } = created.createOrder;
    // B runs no projection: the read waits until A starts and has run them.
    const read = gql('query Order($id: ID!, $after: ConsistencyToken) { order(id: $id, after: $after) { id status fulfilment } }', {
      id: orderId,
      after: consistencyToken,
    });
    await until('the read to wait', () => b.services.consistency.waiting() === 1);
    await a.start();
    const order = (await read).order;
    expect(order).toMatchObject({ id: orderId, status: 'PLACED', fulfilment: 'RESERVED' });

    const named = (name: string, where: (s: ReadableSpan) => boolean = () => true) =>
      exporter.getFinishedSpans().find((s) => s.name === name && where(s));
    const inTrace = (s: ReadableSpan) => s.spanContext().traceId === traceId;
    // The spans the read waited for end before it; the others may still be ending.
    const wait = await until('the wait span', () => named('read-your-writes wait'));
    const reserve = await until('the reservation', () => named('fulfilment sends ReserveStock'));
    const ordersStep = await until('the orders step', () => named('projection orders', (s) => s.links.length > 0));
    const pmStep = await until('the fulfilment step', () => named('process manager fulfilment', (s) => s.links.length > 0));

    // The request (B): the client's span → mutation CreateOrder (the request's server span, named after
    // its operation) → command → decide, append.
    const mutation = named('mutation CreateOrder')!;
    expect(parentOf(mutation)).toBe(clientSpan);
    expect(mutation.kind).toBe(SpanKind.SERVER);
    expect(mutation.attributes).toMatchObject({ 'http.request.method': 'POST', 'graphql.operation.type': 'mutation' });
    const command = named('command CreateOrder')!;
    expect(parentOf(command)).toBe(spanId(mutation));
    expect(parentOf(named('decide CreateOrder')!)).toBe(spanId(command));
    expect(parentOf(named('append Order')!)).toBe(spanId(command));
    for (const span of [mutation, command]) expect(inTrace(span)).toBe(true);

    // The process manager (A): its step links to the order's command; the command it sends continues that trace.
    expect(linksOf(pmStep)).toContain(spanId(command));
    expect(inTrace(reserve)).toBe(true);
    expect(parentOf(reserve)).toBe(spanId(command));
    expect(linksOf(reserve)).toContain(spanId(pmStep));
    const reserveCommand = named('command ReserveStock')!;
    expect(parentOf(reserveCommand)).toBe(spanId(reserve));
    expect(parentOf(named('append Product', (s) => parentOf(s) === spanId(reserveCommand))!)).toBe(spanId(reserveCommand));

    // The projection step (A) links to the order's command.
    expect(linksOf(ordersStep)).toContain(spanId(command));

    // The read (B): the wait, inside query Order, names the projections, how long each took, not stale,
    // and links to the steps that ended it, run by the other app.
    const query = named('query Order')!;
    expect(inTrace(query)).toBe(true);
    expect(parentOf(query)).toBe(clientSpan);
    expect(parentOf(wait)).toBe(spanId(query));
    const projections = wait.attributes['converge.consistency.projections'] as string[];
    const waited = wait.attributes['converge.consistency.waited_ms'] as number[];
    expect(projections).toContain('orders');
    expect(waited).toHaveLength(projections.length);
    for (const ms of waited) expect(ms).toBeGreaterThanOrEqual(0);
    expect(wait.attributes['converge.consistency.stale']).toBe(false);
    const ordersLast = exporter.getFinishedSpans().filter((s) => s.name === 'projection orders' && linksOf(wait).includes(spanId(s)));
    expect(ordersLast.length).toBeGreaterThan(0);

    // Logs: the command's line in B carries the command's trace and span... of the span it was written in.
    const commandLine = lines.find((l) => l.msg === 'command' && l.command === 'CreateOrder')!;
    expect(commandLine.trace_id).toBe(traceId);
    expect(typeof commandLine.span_id).toBe('string');
    expect(exporter.getFinishedSpans().some((s) => spanId(s) === commandLine.span_id)).toBe(true);

    if (process.env.PRINT_TRACE) console.log(render(exporter.getFinishedSpans(), clientSpan));

    // No span carries the address (nor any variable value).
    const text = JSON.stringify(exporter.getFinishedSpans().map((s) => ({ name: s.name, attributes: s.attributes, events: s.events })));
    for (const value of Object.values(ADDRESS).filter((v) => v !== 'DE')) expect(text).not.toContain(value);
  });
});

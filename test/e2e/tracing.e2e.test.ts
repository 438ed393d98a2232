// Spans leave a real server process for an OTLP/HTTP receiver (this test's own, a plain node:http server):
// turned on by OTEL_EXPORTER_OTLP_ENDPOINT alone. On PostgreSQL two processes share the database: B serves
// (PROJECTIONS=off) and exports OTLP/JSON, decoded here; A runs the projections and exports the default
// http/protobuf, whose strings and ids sit in the body as they are. On PGlite (one process per database)
// one process does both. Its log lines in a span carry the span's ids.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, driverName, onPostgres, type TestDatabase } from '../support/db.ts';
import { freePort, killServer, type ServerProcess, startServer } from '../support/processes.ts';
import { untilWithin } from '../support/until.ts';

type Export = { contentType: string; body: Buffer };
type JsonSpan = { traceId: string; spanId: string; parentSpanId?: string; name: string; links?: { spanId: string }[] };

/** What an OTLP/JSON export holds: each span with its service's name. */
const jsonSpans = (exports: Export[]) =>
  exports
    .filter((e) => e.contentType.startsWith('application/json'))
    .flatMap((e) => {
      const request = JSON.parse(e.body.toString()) as {
        resourceSpans: {
          resource: { attributes: { key: string; value: { stringValue?: string } }[] };
          scopeSpans: { spans: JsonSpan[] }[];
        }[];
      };
      return request.resourceSpans.flatMap((rs) => {
        const service = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue;
        return rs.scopeSpans.flatMap((ss) => ss.spans.map((span) => ({ ...span, service })));
      });
    });

const until = untilWithin({ timeoutMs: 30_000, intervalMs: 50 });

describe(`spans to an OTLP/HTTP receiver from real server processes (${driverName})`, () => {
  const exports: Export[] = [];
  let receiver: Server;
  let endpoint = '';
  let t: TestDatabase | undefined;
  let api: ServerProcess | undefined;
  let worker: ServerProcess | undefined;
  const traceId = randomBytes(16).toString('hex');
  const traceparent = `00-${traceId}-${randomBytes(8).toString('hex')}-01`;

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const contentType = req.headers['content-type'] ?? '';
        if (req.url === '/v1/traces') exports.push({ contentType, body: Buffer.concat(chunks) });
        // An empty ExportTraceServiceResponse: everything accepted.
        res.writeHead(200, { 'content-type': contentType.startsWith('application/json') ? 'application/json' : 'application/x-protobuf' });
        res.end(contentType.startsWith('application/json') ? '{}' : '');
      });
    });
    const port = await freePort();
    await new Promise<void>((resolve) => receiver.listen(port, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${port}`;
    const common = { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_BSP_SCHEDULE_DELAY: '100', CONSISTENCY_TIMEOUT_MS: '30000' };
    if (onPostgres) {
      t = await createTestDatabase({ migrate: false });
      const url = (t.options as { url: string }).url;
      api = await startServer({
        ...common,
        DATABASE_URL: url,
        PROJECTIONS: 'off',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_SERVICE_NAME: 'converge-api',
      });
      worker = await startServer({ ...common, DATABASE_URL: url, OTEL_SERVICE_NAME: 'converge-worker' });
    } else {
      api = await startServer({ ...common, PGLITE_DIR: 'memory://', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' });
    }
  });
  afterAll(async () => {
    await killServer(api);
    await killServer(worker);
    await new Promise((resolve) => receiver?.close(resolve));
    await t?.close();
  });

  it('a request with a traceparent: its spans, and the projections’ steps linked to it, arrive at the receiver', async () => {
    const gql = async (query: string, variables?: object) => {
      const response = await fetch(api!.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', traceparent },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await response.json()) as { data?: any; errors?: unknown[] };
      expect(body.errors).toBeUndefined();
      return body.data;
    };
    await gql('mutation { createProduct(input: { sku: "mug", name: "Mug", onHand: 3 }) { consistencyToken } }');
    const { createOrder } = await gql(
      'mutation Place($input: CreateOrderInput!) { createOrder(input: $input) { orderId consistencyToken } }',
      {
        input: {
          customerId: 'c-1',
          items: [{ productId: 'mug', quantity: 1, unitPrice: '4.00' }],
          shippingAddress: { line1: '1 Quiet Road', city: 'Elsewhere', postalCode: '99999', country: 'DE' },
        },
      },
    );
    const { order } = await gql('query Read($id: ID!, $after: ConsistencyToken) { order(id: $id, after: $after) { status fulfilment } }', {
      id: createOrder.orderId,
      after: createOrder.consistencyToken,
    });
    expect(order).toEqual({ status: 'PLACED', fulfilment: 'RESERVED' });

    // OTLP/JSON from the API process: the request's spans, in the client's trace, correctly parented.
    const spans = await until('the request spans', () => {
      const found = jsonSpans(exports).filter((s) => s.traceId === traceId);
      const names = new Set(found.map((s) => s.name));
      return ['mutation Place', 'command CreateOrder', 'append Order', 'query Read'].every((n) => names.has(n)) && found;
    });
    const byName = (name: string) => spans.find((s) => s.name === name)!;
    expect(byName('command CreateOrder').parentSpanId).toBe(byName('mutation Place').spanId);
    expect(byName('append Order').parentSpanId).toBe(byName('command CreateOrder').spanId);
    expect(byName('mutation Place').parentSpanId).toBe(traceparent.slice(36, 52));
    expect(byName('mutation Place').service).toBe(onPostgres ? 'converge-api' : 'converge');
    expect(JSON.stringify(spans)).not.toContain('Quiet Road');

    const commandSpan = Buffer.from(byName('command CreateOrder').spanId, 'hex');
    if (onPostgres) {
      // http/protobuf from the worker: its projection step, linked to the command (the span id's 8 bytes),
      // and the reservation it sent, in the client's trace (its 16 bytes). The two may end in different
      // exports: the exporter sends what has ended at each tick.
      const fromWorker = (...parts: (string | Buffer)[]) =>
        exports.some(
          (e) => e.contentType === 'application/x-protobuf' && e.body.includes('converge-worker') && parts.every((p) => e.body.includes(p)),
        );
      await until(
        'the worker’s spans',
        () => fromWorker('projection orders', commandSpan) && fromWorker('fulfilment sends ReserveStock', Buffer.from(traceId, 'hex')),
      );
    } else {
      const steps = await until('the projection step', () => {
        const found = jsonSpans(exports).filter(
          (s) => s.name === 'projection orders' && s.links?.some((l) => l.spanId === byName('command CreateOrder').spanId),
        );
        return found.length > 0 && found;
      });
      expect(steps[0]!.traceId).not.toBe(traceId); // a step of its own, linked to the request's trace
    }

    // The API's log line for the command names its span.
    const line = api!.logs
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.msg === 'command' && l.command === 'CreateOrder');
    expect(line?.trace_id).toBe(traceId);
    expect(spans.some((s) => s.spanId === line?.span_id)).toBe(true);
  });
});

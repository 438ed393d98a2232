// The tracing port on OpenTelemetry (infra/observability/tracing.ts): a traceparent as parent or link,
// a bad one ignored, a failure recorded by its code only, and tracing off running the work untouched.
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-node';
import { afterAll, describe, expect, it } from 'vitest';
import { RuleViolationError } from '../../src/core/errors.ts';
import { noTracing } from '../../src/core/tracing.ts';
import { spanContextOf, startTracing } from '../../src/infra/observability/tracing.ts';

const exporter = new InMemorySpanExporter();
const tracing = await startTracing(undefined, { exporter });
afterAll(() => tracing.shutdown());

const PARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

describe('tracing on OpenTelemetry', () => {
  it('continues a traceparent, and hands the current span on as one', async () => {
    const inner = await tracing.span('outer', { parent: PARENT }, async () => tracing.span('inner', {}, async () => tracing.current()));
    const [innerSpan, outerSpan] = exporter.getFinishedSpans().slice(-2);
    expect(outerSpan!.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(outerSpan!.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
    expect(innerSpan!.parentSpanContext?.spanId).toBe(outerSpan!.spanContext().spanId);
    expect(inner).toBe(`00-${innerSpan!.spanContext().traceId}-${innerSpan!.spanContext().spanId}-01`);
  });

  it('ignores a traceparent that is not one, as a parent and as a link', async () => {
    for (const bad of [
      '',
      'nonsense',
      '00-00000000000000000000000000000000-b7ad6b7169203331-01',
      'ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    ]) {
      expect(spanContextOf(bad)).toBeUndefined();
    }
    await tracing.span('root', { parent: 'nonsense', links: ['nonsense', PARENT, PARENT] }, async () => {});
    const span = exporter.getFinishedSpans().at(-1)!;
    expect(span.parentSpanContext).toBeUndefined();
    expect(span.links.map((l) => l.context.spanId)).toEqual(['b7ad6b7169203331']);
  });

  it('records a failure by its code, never its message', async () => {
    await expect(
      tracing.span('fails', {}, async () => {
        throw new RuleViolationError('customer 7 Secret Lane may not');
      }),
    ).rejects.toThrow(RuleViolationError);
    const span = exporter.getFinishedSpans().at(-1)!;
    expect(span.status).toEqual({ code: 2, message: 'RULE_VIOLATION' });
    expect(JSON.stringify({ status: span.status, attributes: span.attributes, events: span.events })).not.toContain('Secret');
  });

  it('off, runs the work directly and names no span', async () => {
    expect(await noTracing.span('x', {}, async (span) => span.traceparent() ?? 'none')).toBe('none');
    expect(noTracing.current()).toBeUndefined();
  });
});

// The tracing port (core/tracing.ts) on OpenTelemetry: spans through @opentelemetry/api, the SDK (tracer
// provider, batch processor, OTLP/HTTP exporter) loaded only when tracing is on (config.ts: OTEL_*), so
// that tracing off loads and costs nothing. No global tracer provider is registered: each app has its
// own (two apps in one process, in tests), sharing the process's one async context manager.
import {
  context,
  type Context,
  isSpanContextValid,
  type Link,
  type Span as ApiSpan,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  trace,
  type Tracer,
} from '@opentelemetry/api';
import type { SpanExporter } from '@opentelemetry/sdk-trace-node';
import {
  failureCode,
  NO_SPAN,
  noTracing,
  type Span,
  type SpanAttributes,
  type SpanOptions,
  type TraceParent,
  type Tracing,
} from '../../core/tracing.ts';

/** What config.ts makes of the OTEL_* variables; undefined there means tracing off. */
export type TracingConfig = {
  exporters: readonly ('otlp' | 'console')[];
  protocol: 'http/protobuf' | 'http/json';
  /** The OTLP traces URL (…/v1/traces). */
  url: string;
  serviceName: string;
};

export type RunningTracing = Tracing & {
  /** Exports what is buffered, then stops. */
  shutdown(): Promise<void>;
};

const KINDS = { internal: SpanKind.INTERNAL, server: SpanKind.SERVER, producer: SpanKind.PRODUCER, consumer: SpanKind.CONSUMER };

// W3C Trace Context: version, trace id, parent (span) id, flags; a later version may append fields.
const TRACEPARENT = /^([\da-f]{2})-([\da-f]{32})-([\da-f]{16})-([\da-f]{2})(-.*)?$/;

/** A traceparent's span context (remote), or undefined when it is not a valid one. */
export function spanContextOf(traceparent: TraceParent): SpanContext | undefined {
  const match = TRACEPARENT.exec(traceparent.trim());
  if (!match || match[1] === 'ff' || (match[1] === '00' && match[5])) return undefined;
  const sc = { traceId: match[2]!, spanId: match[3]!, traceFlags: Number.parseInt(match[4]!, 16), isRemote: true };
  return isSpanContextValid(sc) ? sc : undefined;
}

export const formatTraceParent = (sc: SpanContext): TraceParent =>
  `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, '0')}`;

const clean = (attributes: SpanAttributes) => {
  const out: Record<string, string | number | boolean | string[] | number[]> = {};
  for (const [key, value] of Object.entries(attributes)) if (value !== undefined) out[key] = value as string;
  return out;
};

// Past OpenTelemetry's default of 128 links a span keeps none more: a big batch links to its first events.
const MAX_LINKS = 128;

const toLinks = (parents: readonly TraceParent[]): Link[] => {
  const links: Link[] = [];
  for (const parent of new Set(parents)) {
    const sc = spanContextOf(parent);
    if (sc) links.push({ context: sc });
    if (links.length >= MAX_LINKS) break;
  }
  return links;
};

class OtelSpan implements Span {
  constructor(readonly span: ApiSpan) {}
  setAttributes(attributes: SpanAttributes) {
    this.span.setAttributes(clean(attributes));
  }
  rename(name: string) {
    this.span.updateName(name);
  }
  addEvent(name: string, attributes?: SpanAttributes) {
    this.span.addEvent(name, attributes && clean(attributes));
  }
  addLinks(links: readonly TraceParent[]) {
    if (links.length > 0) this.span.addLinks(toLinks(links));
  }
  fail(code: string) {
    this.span.setStatus({ code: SpanStatusCode.ERROR, message: code });
    this.span.setAttribute('error.type', code);
  }
  traceparent() {
    return formatTraceParent(this.span.spanContext());
  }
  end() {
    this.span.end();
  }
}

/** Tracing with `tracer`: the port's operations in OpenTelemetry's terms. */
export function tracingWith(tracer: Tracer): Tracing {
  const parentContext = (options: SpanOptions): Context => {
    const sc = options.parent ? spanContextOf(options.parent) : undefined;
    return sc ? trace.setSpanContext(context.active(), sc) : context.active();
  };
  const start = (name: string, options: SpanOptions, parent: Context) =>
    new OtelSpan(
      tracer.startSpan(
        name,
        {
          kind: KINDS[options.kind ?? 'internal'],
          attributes: options.attributes && clean(options.attributes),
          links: options.links && toLinks(options.links),
          startTime: options.startTime,
        },
        parent,
      ),
    );
  return {
    enabled: true,
    async span(name, options, work) {
      const parent = parentContext(options);
      const span = start(name, options, parent);
      try {
        return await context.with(trace.setSpan(parent, span.span), work, undefined, span);
      } catch (error) {
        span.fail(failureCode(error));
        throw error;
      } finally {
        span.end();
      }
    },
    start: (name, options = {}) => start(name, options, parentContext(options)),
    within: (span, work) => (span instanceof OtelSpan ? context.with(trace.setSpan(context.active(), span.span), work) : work()),
    current() {
      const sc = trace.getSpanContext(context.active());
      return sc ? formatTraceParent(sc) : undefined;
    },
    currentSpan() {
      const span = trace.getActiveSpan();
      return span ? new OtelSpan(span) : NO_SPAN;
    },
  };
}

/** trace_id and span_id of the current span, for every log line written inside one (pino's mixin). */
export function traceLogFields(): { trace_id?: string; span_id?: string } {
  const sc = trace.getSpanContext(context.active());
  return sc ? { trace_id: sc.traceId, span_id: sc.spanId } : {};
}

/** A CommonJS package's exports, whether imported natively (named) or from the server's bundle (only `default`). */
const cjs = async <T>(loading: Promise<T>): Promise<T> => {
  const module = await loading;
  return (module as { default?: T }).default ?? module;
};

let contextManager: Promise<void> | undefined;

/** The process's async context manager (AsyncLocalStorage), set once whichever app starts tracing first. */
const ensureContextManager = () =>
  (contextManager ??= cjs(import('@opentelemetry/context-async-hooks')).then(({ AsyncLocalStorageContextManager }) => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  }));

/**
 * Starts tracing as `config` says (off when undefined, unless a test hands in `exporter`: spans go there
 * as each ends). The SDK is imported here, so that tracing off never loads it.
 */
export async function startTracing(config: TracingConfig | undefined, options: { exporter?: SpanExporter } = {}): Promise<RunningTracing> {
  if (!config && !options.exporter) return { ...noTracing, shutdown: async () => {} };
  const [
    { NodeTracerProvider, BatchSpanProcessor, SimpleSpanProcessor, ConsoleSpanExporter },
    { resourceFromAttributes, detectResources, envDetector },
  ] = await Promise.all([
    cjs(import('@opentelemetry/sdk-trace-node')),
    cjs(import('@opentelemetry/resources')),
    ensureContextManager(),
  ]).then(([sdk, resources]) => [sdk, resources] as const);
  const processors = [];
  if (options.exporter) processors.push(new SimpleSpanProcessor(options.exporter));
  for (const kind of config?.exporters ?? []) {
    if (kind === 'console') processors.push(new BatchSpanProcessor(new ConsoleSpanExporter()));
    else processors.push(new BatchSpanProcessor(await otlpExporter(config!)));
  }
  // OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME of the process's environment win over the defaults.
  const resource = resourceFromAttributes({ 'service.name': config?.serviceName ?? 'converge' }).merge(
    detectResources({ detectors: [envDetector] }),
  );
  const provider = new NodeTracerProvider({ resource, spanProcessors: processors });
  const tracing = tracingWith(provider.getTracer('converge'));
  return { ...tracing, shutdown: () => provider.shutdown() };
}

async function otlpExporter(config: TracingConfig): Promise<SpanExporter> {
  // OTEL_EXPORTER_OTLP_HEADERS, _TIMEOUT and _COMPRESSION are read by the exporter itself.
  const { OTLPTraceExporter } =
    config.protocol === 'http/json'
      ? await cjs(import('@opentelemetry/exporter-trace-otlp-http'))
      : await cjs(import('@opentelemetry/exporter-trace-otlp-proto'));
  return new OTLPTraceExporter({ url: config.url });
}

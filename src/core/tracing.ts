// The tracing port: spans around commands, projection steps, process managers' commands and read-your-
// writes waits, and the W3C trace context that events carry so that later, asynchronous work links to
// its cause. infra/observability/tracing.ts implements it with OpenTelemetry; `noTracing` costs nothing.

/** A span's attributes: names and ids only, never personal data or input values. */
export type SpanAttributes = Record<string, string | number | boolean | readonly string[] | readonly number[] | undefined>;

/** A W3C `traceparent` ("00-<trace id>-<span id>-<flags>"): how a span is named across processes and time. */
export type TraceParent = string;

export type SpanOptions = {
  attributes?: SpanAttributes;
  /** `server` for a request from outside, `producer` for a message sent, `consumer` for one taken in. */
  kind?: 'internal' | 'server' | 'producer' | 'consumer';
  /** The parent: this traceparent instead of the current span (a process manager's command continues its event's trace). */
  parent?: TraceParent;
  /** Spans this one follows from without being their child (a projection step and the events it applied). */
  links?: readonly TraceParent[];
  /** When the span began (performance.timeOrigin-based ms), for one opened once it is known to be worth it. */
  startTime?: number;
};

export type Span = {
  setAttributes(attributes: SpanAttributes): void;
  /** Names it once what it is turns out (a request's span, once its GraphQL operation is known). */
  rename(name: string): void;
  /** A point in time inside the span (a retry, a projection reached). */
  addEvent(name: string, attributes?: SpanAttributes): void;
  addLinks(links: readonly TraceParent[]): void;
  /** Marks the span failed with an error code (never the error's message: it may carry input). */
  fail(code: string): void;
  /** This span as a traceparent (to store in an event's metadata, or to link to). */
  traceparent(): TraceParent | undefined;
  end(): void;
};

export type Tracing = {
  readonly enabled: boolean;
  /** Runs `work` inside a new span (a child of the current one unless `parent` says otherwise), ended when it settles. */
  span<T>(name: string, options: SpanOptions, work: (span: Span) => Promise<T>): Promise<T>;
  /** Starts a span without making it current; `within` makes it current for some work. */
  start(name: string, options?: SpanOptions): Span;
  within<T>(span: Span, work: () => T): T;
  /** The current span as a traceparent; undefined outside any span or with tracing off. */
  current(): TraceParent | undefined;
  /** The current span (NO_SPAN outside any), to mark a moment of it (a retry). */
  currentSpan(): Span;
};

export const NO_SPAN: Span = Object.freeze({
  setAttributes() {},
  rename() {},
  addEvent() {},
  addLinks() {},
  fail() {},
  traceparent: () => undefined,
  end() {},
});

/** Tracing off: every call runs its work directly. */
export const noTracing: Tracing = Object.freeze({
  enabled: false,
  span: <T>(_name: string, _options: SpanOptions, work: (span: Span) => Promise<T>) => work(NO_SPAN),
  start: () => NO_SPAN,
  within: <T>(_span: Span, work: () => T) => work(),
  current: () => undefined,
  currentSpan: () => NO_SPAN,
});

/** The error code a span records for a failure: a ConvergeError's public code, else the error's class. */
export const failureCode = (error: unknown): string => {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  return error instanceof Error ? error.name : 'Error';
};

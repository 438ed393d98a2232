// The async iterator a subscription hands graphql-ws (or yoga's SSE), fed by push(). A Repeater keeps a
// suspended executor, a stop promise with its methods and two queues per subscription; this is one object
// whose methods live on its class, with a queue only while the reader lags
// (docs/decisions/subscriptions-at-scale.md).

type Reader<T> = { resolve(result: IteratorResult<T>): void; reject(error: unknown): void };

export class PushedStream<T> implements AsyncIterableIterator<T> {
  /** Settles when the stream ends, however. */
  readonly ended: Promise<void>;
  private queue: T[] | undefined;
  private reader: Reader<T> | undefined;
  private done = false;
  private failure: unknown;
  private settle!: () => void;
  private readonly signal: AbortSignal | undefined;

  constructor(signal?: AbortSignal) {
    this.ended = new Promise<void>((resolve) => (this.settle = resolve));
    this.signal = signal;
    if (signal?.aborted) this.end();
    else signal?.addEventListener('abort', this, { once: true });
  }

  /** The signal's abort (the stream is its own listener: no closure per stream). */
  handleEvent(): void {
    this.end();
  }

  /** Queued until read; ignored once the stream has ended. */
  push(value: T): void {
    if (this.done) return;
    const reader = this.reader;
    if (reader) {
      this.reader = undefined;
      reader.resolve({ done: false, value });
    } else (this.queue ??= []).push(value);
  }

  /** Ends the stream: the reader gets what was queued, then the end (or `error`, once). */
  end(error?: unknown): void {
    if (this.done) return;
    this.done = true;
    this.failure = error;
    this.signal?.removeEventListener('abort', this);
    this.settle();
    const reader = this.reader;
    if (!reader) return;
    this.reader = undefined;
    this.finished().then(reader.resolve, reader.reject);
  }

  next(): Promise<IteratorResult<T>> {
    if (this.queue?.length) return Promise.resolve({ done: false, value: this.queue.shift()! });
    if (this.done) return this.finished();
    return new Promise((resolve, reject) => (this.reader = { resolve, reject }));
  }

  return(): Promise<IteratorResult<T>> {
    this.queue = undefined;
    this.end();
    return Promise.resolve({ done: true, value: undefined });
  }

  throw(error?: unknown): Promise<IteratorResult<T>> {
    this.queue = undefined;
    this.end();
    return Promise.reject(error);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private finished(): Promise<IteratorResult<T>> {
    if (this.failure === undefined) return Promise.resolve({ done: true, value: undefined });
    const error = this.failure;
    this.failure = undefined; // thrown once, then the stream is just done
    return Promise.reject(error);
  }
}

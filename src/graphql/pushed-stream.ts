// The async iterator a subscription hands graphql-ws (or yoga's SSE), fed by push(). A Repeater keeps a
// suspended executor, a stop promise with its methods and two queues per subscription; this is one object
// whose methods live on its class, with a queue only while the reader lags
// (docs/decisions/subscriptions-at-scale.md).
import { EndingStream } from './ending-stream.ts';

type Reader<T> = { resolve(result: IteratorResult<T>): void; reject(error: unknown): void };

export class PushedStream<T> extends EndingStream<T> {
  private queue: T[] | undefined;
  private reader: Reader<T> | undefined;

  constructor(signal?: AbortSignal) {
    super();
    this.endOn(signal);
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

  /** The reader gets what was queued, then the end (see end()). */
  protected onEnd(): void {
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

  /** The client left: what was queued goes too. */
  override return(): Promise<IteratorResult<T>> {
    this.queue = undefined;
    return super.return();
  }

  override throw(error?: unknown): Promise<IteratorResult<T>> {
    this.queue = undefined;
    return super.throw(error);
  }
}

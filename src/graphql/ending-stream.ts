// What the subscription streams handed to graphql-ws (or yoga's SSE) share: one end, however it comes
// (the client's return(), the operation's signal, or the server, with an error the reader gets once),
// and a promise that settles with it.

export abstract class EndingStream<T> implements AsyncIterableIterator<T> {
  /** Settles when the stream ends, however. */
  readonly ended: Promise<void>;
  protected done = false;
  private failure: unknown;
  private settle!: () => void;
  private signal: AbortSignal | undefined;

  constructor() {
    this.ended = new Promise<void>((resolve) => (this.settle = resolve));
  }

  abstract next(): Promise<IteratorResult<T>>;

  /** Wakes the reader, or whatever waits for it, once the stream has ended. */
  protected abstract onEnd(): void;

  /** Ends the stream when `signal` aborts: called last in a subclass's constructor, once it can end. */
  protected endOn(signal: AbortSignal | undefined): void {
    this.signal = signal;
    if (signal?.aborted) this.end();
    else signal?.addEventListener('abort', this, { once: true });
  }

  /** The signal's abort (the stream is its own listener: no closure per stream). */
  handleEvent(): void {
    this.end();
  }

  /** Ends the stream: the reader gets the end, or `error` once. */
  end(error?: unknown): void {
    if (this.done) return;
    this.done = true;
    this.failure = error;
    this.signal?.removeEventListener('abort', this);
    this.settle();
    this.onEnd();
  }

  return(): Promise<IteratorResult<T>> {
    this.end();
    return Promise.resolve({ done: true, value: undefined });
  }

  throw(error?: unknown): Promise<IteratorResult<T>> {
    this.end();
    return Promise.reject(error);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  protected finished(): Promise<IteratorResult<T>> {
    if (this.failure === undefined) return Promise.resolve({ done: true, value: undefined });
    const error = this.failure;
    this.failure = undefined; // thrown once, then the stream is just done
    return Promise.reject(error);
  }
}

// One client of a live query: an async iterator (what graphql-ws and yoga's SSE read) that holds only the
// newest result it has not read yet, so that a slow client skips to the latest instead of queueing.
import type { ExecutionResult } from 'graphql';

export class LiveSubscriber implements AsyncIterableIterator<ExecutionResult> {
  private unread: ExecutionResult | undefined;
  private waiting: ((result: IteratorResult<ExecutionResult>) => void) | undefined;
  private finished = false;
  private readonly leaving: (() => void)[] = [];
  /** Whether it may still receive results (false: it was ended instead, its access gone). */
  admits: () => boolean = () => true;

  /** `leave` runs once, when the client stops reading or the server ends it. */
  onLeave(leave: () => void): void {
    if (this.finished) leave();
    else this.leaving.push(leave);
  }

  offer(result: ExecutionResult): void {
    if (this.finished || !this.admits()) return;
    const waiting = this.waiting;
    this.waiting = undefined;
    if (waiting) waiting({ value: result, done: false });
    else this.unread = result;
  }

  /** Ends the stream, after `last` when given (an error the client must see, such as an expired token). */
  finish(last?: ExecutionResult): void {
    if (this.finished) return;
    this.finished = true;
    const waiting = this.waiting;
    this.waiting = undefined;
    if (last && waiting) waiting({ value: last, done: false });
    else if (last) this.unread = last;
    else waiting?.({ value: undefined, done: true });
    for (const leave of this.leaving.splice(0)) leave();
  }

  next(): Promise<IteratorResult<ExecutionResult>> {
    const value = this.unread;
    this.unread = undefined;
    if (value) return Promise.resolve({ value, done: false });
    if (this.finished) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.waiting = resolve));
  }

  return(): Promise<IteratorResult<ExecutionResult>> {
    this.unread = undefined;
    this.finish();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error?: unknown): Promise<IteratorResult<ExecutionResult>> {
    this.return();
    return Promise.reject(error);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

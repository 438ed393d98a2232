// One client of a live query: an async iterator (what graphql-ws and yoga's SSE read) that holds only the
// newest result it has not read yet, so that a slow client skips to the latest instead of queueing; and
// what watches over it (counted while open, ended when it leaves or its token expires).
import { type ExecutionResult, GraphQLError } from 'graphql';
import { UnauthenticatedError } from '../core/errors.ts';
import { runAt } from '../core/timers.ts';
import type { GraphQLContext } from './context.ts';

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

/**
 * Per client: counted as an open subscription (`live`) while it reads, ended when it leaves (its signal)
 * and, with a last UNAUTHENTICATED result, when its token expires: the same access as its first result.
 */
export function superviseLiveClient(ctx: GraphQLContext, subscriber: LiveSubscriber): LiveSubscriber {
  const closed = ctx.subscriptionOpened('live');
  const expiresAt = ctx.caller.expiresAt;
  const expired = () => {
    const error = new UnauthenticatedError('The token has expired');
    subscriber.finish({ errors: [new GraphQLError(error.message, { originalError: error, extensions: error.extensions })] });
  };
  const cancel = expiresAt === undefined ? undefined : runAt(expiresAt, expired);
  // A timer may fire late: a result due after the expiry ends the stream instead.
  if (expiresAt !== undefined)
    subscriber.admits = () => {
      if (Date.now() < expiresAt) return true;
      expired();
      return false;
    };
  const onAbort = () => subscriber.finish();
  ctx.signal?.addEventListener('abort', onAbort, { once: true });
  subscriber.onLeave(() => {
    cancel?.();
    ctx.signal?.removeEventListener('abort', onAbort);
    closed();
  });
  return subscriber;
}

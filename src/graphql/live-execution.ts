// One live query shared by every client that sent the same document and variables with the same access:
// it runs once per change of what it read, whoever listens, and hands each new result to them all. Runs
// never overlap: changes that arrive during one are folded into a single next run (at the newest of
// their positions), so a burst costs one run and one result, never one per change.
import type { ExecutionResult } from 'graphql';
import { maxPosition, type Position } from '../core/position.ts';
import { LiveSubscriber } from './live-subscriber.ts';

/** Runs the operation once, reading at least as new as `session`; `read` is told each key it reads. */
export type LiveRun = (session: Position | undefined, read: (projection: string, key: string) => void) => Promise<ExecutionResult>;

export type LiveExecutionHooks = {
  run: LiveRun;
  /** Index its keys (it is told about changes to them) or drop them. */
  watch(projection: string, key: string): void;
  unwatch(projection: string, key: string): void;
  /** The last client left: it is gone. */
  disposed(): void;
};

const topicOf = (projection: string, key: string) => `${projection}\u0000${key}`;

export class LiveExecution {
  private readonly subscribers = new Set<LiveSubscriber>();
  /** The last result handed out, and its text (results that read the same are not sent again). */
  private latest: { result: ExecutionResult; text: string } | undefined;
  /** The next run's position: undefined when none is due; null for a first run without a token. */
  private pending: Position | null | undefined;
  private running = false;
  private disposed = false;
  /** What its runs read (projection and key): the keys of the last run, and of the one running. */
  private readonly watched = new Map<string, [string, string]>();

  constructor(
    private readonly hooks: LiveExecutionHooks,
    session: Position | undefined,
  ) {
    this.pending = session ?? null;
  }

  /** The first run. */
  start(): this {
    void this.loop();
    return this;
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /** A new client: it gets the latest result at once (or the first, when it comes). */
  join(): LiveSubscriber {
    const subscriber = new LiveSubscriber();
    this.subscribers.add(subscriber);
    if (this.latest) subscriber.offer(this.latest.result);
    subscriber.onLeave(() => {
      this.subscribers.delete(subscriber);
      if (this.subscribers.size === 0) this.dispose();
    });
    return subscriber;
  }

  /** Something it read changed, up to `at`: run again (once, however many changes come meanwhile). */
  invalidate(at: Position): void {
    if (this.disposed) return;
    this.pending = this.pending ? maxPosition(this.pending, at) : at;
    if (!this.running) void this.loop();
  }

  private async loop() {
    this.running = true;
    try {
      while (this.pending !== undefined && !this.disposed) {
        const session = this.pending ?? undefined;
        this.pending = undefined;
        await this.runOnce(session);
      }
    } finally {
      this.running = false;
    }
  }

  private async runOnce(session: Position | undefined) {
    const read = new Set<string>();
    const result = await this.hooks.run(session, (projection, key) => {
      const topic = topicOf(projection, key);
      read.add(topic);
      // Watched before it is read: a change that lands while it runs brings another run.
      if (this.disposed || this.watched.has(topic)) return;
      this.watched.set(topic, [projection, key]);
      this.hooks.watch(projection, key);
    });
    for (const [topic, [projection, key]] of this.watched) {
      if (read.has(topic)) continue;
      this.watched.delete(topic);
      this.hooks.unwatch(projection, key);
    }
    if (this.disposed) return;
    const text = JSON.stringify([result.data, result.errors]);
    if (this.latest?.text === text) return;
    this.latest = { result, text };
    for (const subscriber of this.subscribers) subscriber.offer(result);
  }

  private dispose() {
    if (this.disposed) return;
    this.disposed = true;
    for (const [projection, key] of this.watched.values()) this.hooks.unwatch(projection, key);
    this.watched.clear();
    this.hooks.disposed();
  }
}

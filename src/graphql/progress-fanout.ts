// projectionProgress without `until`: one follower of the tracker per process, shared by every such
// subscription. Each advance becomes its event once (the position, and caughtUp against one read of the
// log's head, executed once per selection), and each subscriber takes the latest event of each projection
// it follows when it is ready for one: a slow subscriber skips positions instead of queueing them, and an
// advance costs the subscribers that wait for it, not every subscriber.
import { isAtOrAfter, type Position } from '../core/position.ts';
import type { GraphQLServices } from './context.ts';
import { EndingStream } from './ending-stream.ts';
import { sharedEvent } from './event-execution.ts';

export type Progress = { projection: string; position: Position | null; caughtUp: boolean };

type Follower = { names: readonly string[]; seen: Map<string, number>; wake: (() => void) | undefined };

type Hub = {
  /** Advances seen per projection: a follower behind it has an event to take. */
  seq: Map<string, number>;
  /** The event of each projection's last advance (read once, whoever takes it). */
  latest: Map<string, Promise<Progress>>;
  /** Followers waiting for an advance of one of their projections. */
  parked: Set<Follower>;
  followers: number;
  unsubscribe: (() => void) | undefined;
  waking: boolean;
};

/**
 * Parked followers woken per turn of the event loop: thousands of subscribers woken at once would hold
 * every request (and the read-your-writes reads) behind their sends for tens of milliseconds.
 */
const WAKE_CHUNK = 256;

const hubs = new WeakMap<GraphQLServices, Hub>();

/** The projection's position now, caught up when it has processed the log's head. */
export async function progressNow(services: GraphQLServices, name: string): Promise<Progress> {
  const position = services.tracker.position(name);
  // The database may be away a moment (a restart): the position goes out all the same, not caught up.
  const head = await services.headPosition().catch(() => undefined);
  const caughtUp = head !== undefined && (head === null || (position !== null && isAtOrAfter(position, head)));
  return { projection: name, position, caughtUp };
}

function hubOf(services: GraphQLServices): Hub {
  let hub = hubs.get(services);
  if (!hub)
    hubs.set(
      services,
      (hub = {
        seq: new Map(),
        latest: new Map(),
        parked: new Set(),
        followers: 0,
        unsubscribe: undefined,
        waking: false,
      }),
    );
  return hub;
}

function follow(services: GraphQLServices, hub: Hub): void {
  hub.followers++;
  hub.unsubscribe ??= services.tracker.subscribe(({ projection }) => {
    hub.seq.set(projection, (hub.seq.get(projection) ?? 0) + 1);
    // One event for every follower: executed once per selection (event-execution.ts).
    const event = progressNow(services, projection).then(sharedEvent);
    hub.latest.set(projection, event);
    if (!hub.waking) {
      hub.waking = true;
      setImmediate(wakeParked, hub);
    }
  });
}

const behind = (hub: Hub, follower: Follower) => follower.names.some((name) => (hub.seq.get(name) ?? 0) > follower.seen.get(name)!);

/** Wakes the parked followers an advance concerns, WAKE_CHUNK per turn, so that I/O runs in between. */
function wakeParked(hub: Hub): void {
  let woken = 0;
  for (const follower of hub.parked) {
    if (!behind(hub, follower)) continue;
    hub.parked.delete(follower);
    follower.wake?.();
    if (++woken === WAKE_CHUNK) {
      setImmediate(wakeParked, hub);
      return;
    }
  }
  hub.waking = false;
}

function unfollow(hub: Hub): void {
  if (--hub.followers > 0) return;
  hub.unsubscribe?.();
  hub.unsubscribe = undefined;
  hub.seq.clear();
  hub.latest.clear();
}

/**
 * The events of `names`: first each one's position now, then the latest event of whichever advanced
 * since the subscriber last took one. Ends on return(), on `signal`, or with the error given to end().
 */
export class ProgressStream extends EndingStream<Progress> {
  private readonly hub: Hub;
  private readonly follower: Follower;
  private readonly initial: string[];

  constructor(
    private readonly services: GraphQLServices,
    private readonly names: readonly string[],
    signal?: AbortSignal,
  ) {
    super();
    this.hub = hubOf(services);
    this.follower = { names, seen: new Map(), wake: undefined };
    this.initial = [...names];
    follow(services, this.hub);
    // Advances before the first events are covered by them.
    for (const name of names) this.follower.seen.set(name, this.hub.seq.get(name) ?? 0);
    this.endOn(signal);
  }

  /** Leaves the hub, and wakes the reader if it waits for an advance. */
  protected onEnd(): void {
    this.hub.parked.delete(this.follower);
    unfollow(this.hub);
    this.follower.wake?.();
  }

  async next(): Promise<IteratorResult<Progress>> {
    const { hub, follower } = this;
    while (!this.done) {
      const event = this.take();
      if (event) {
        const value = await event;
        return this.done ? this.finished() : { done: false, value };
      }
      await new Promise<void>((resolve) => {
        follower.wake = resolve;
        hub.parked.add(follower);
      });
      follower.wake = undefined;
    }
    return this.finished();
  }

  private take(): Promise<Progress> | undefined {
    const name = this.initial.shift();
    if (name !== undefined) return progressNow(this.services, name);
    for (const followed of this.names) {
      const seq = this.hub.seq.get(followed) ?? 0;
      if (seq > this.follower.seen.get(followed)!) {
        this.follower.seen.set(followed, seq);
        return this.hub.latest.get(followed);
      }
    }
    return undefined;
  }
}

// Which streams a projection's advance covered, read once per advance for every listener in this
// process (orderChanged's subscribers share it): the cost of a progress tick follows what changed, not
// how many listen. Fed by the tracker, so it sees the advances of every process.
import type { ConsistencyTracker } from './consistency-tracker.ts';
import { isAtOrAfter, START, type Position } from './position.ts';

/** The streams (tenantKey) with events in an advance, or 'all' when there were too many to list (or the read failed). */
export type ChangedStreams = ReadonlySet<string> | 'all';

export type StreamChanges = {
  /**
   * Calls `listener` after each advance of `projection` with the streams it covered and where it
   * ended (a read of the changes waits for that: on a replica it must have replayed them); returns the
   * unsubscribe.
   */
  subscribe(projection: string, listener: (changed: ChangedStreams, at: Position) => void): () => void;
};

/** The streams (tenantKey) with events after `from`, up to `to`; null when more than `limit` events lie between. */
export type StreamsBetween = (from: Position, to: Position, limit: number) => Promise<string[] | null>;

export function createStreamChanges(tracker: ConsistencyTracker, streamsBetween: StreamsBetween, limit = 1000): StreamChanges {
  type Feed = {
    listeners: Set<(changed: ChangedStreams, at: Position) => void>;
    seen: Position | null;
    reading: boolean;
    again: boolean;
    stop: () => void;
  };
  const feeds = new Map<string, Feed>();

  async function follow(projection: string, feed: Feed) {
    if (feed.reading) {
      feed.again = true;
      return;
    }
    feed.reading = true;
    try {
      do {
        feed.again = false;
        const to = tracker.position(projection);
        if (!to || (feed.seen && isAtOrAfter(feed.seen, to))) continue;
        let changed: ChangedStreams;
        try {
          const streams = await streamsBetween(feed.seen ?? START, to, limit);
          changed = streams ? new Set(streams) : 'all';
        } catch {
          changed = 'all'; // each listener then reads for itself, and fails or not on its own
        }
        feed.seen = to;
        for (const listener of feed.listeners) listener(changed, to);
      } while (feed.again && feeds.get(projection) === feed);
    } finally {
      feed.reading = false;
    }
  }

  return {
    subscribe(projection, listener) {
      let feed = feeds.get(projection);
      if (!feed) {
        const created: Feed = { listeners: new Set(), seen: tracker.position(projection), reading: false, again: false, stop: () => {} };
        created.stop = tracker.subscribe((progress) => {
          if (progress.projection === projection) void follow(projection, created);
        });
        feeds.set(projection, created);
        feed = created;
      }
      const mine = feed;
      mine.listeners.add(listener);
      return () => {
        mine.listeners.delete(listener);
        if (mine.listeners.size === 0 && feeds.get(projection) === mine) {
          mine.stop();
          feeds.delete(projection);
        }
      };
    },
  };
}

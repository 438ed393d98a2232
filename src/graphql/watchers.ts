// Subscriptions that watch streams of one projection's read model (orderChanged watches orders by id).
// After each advance of the projection, each changed stream that someone in this process watches is
// read once, and every watcher of it gets that read: the cost follows the changes, not the watchers.
import type { Position } from '../core/position.ts';
import type { ChangedStreams } from '../core/stream-changes.ts';
import { inTenant, splitKey, tenantKey } from '../core/tenancy.ts';
import type { GraphQLServices } from './context.ts';

/** `next` gets the stream's row and the advance it was read at. */
export type Watcher<T> = { next(value: T, at: Position): void; fail(error: unknown): void };

/** What a watch reads: the projection whose advances it follows, and the read of one stream's row. */
export type WatchDefinition<T> = {
  projection: string;
  /** Reads the stream's row at least as new as `at` (a replica must have replayed it, or the change is missed). */
  read(services: GraphQLServices, streamId: string, at: Position): Promise<T | null>;
};

export type StreamWatchers<T> = {
  /** Watches `streamId` of `tenant` (each read of it acts for that tenant); returns the unwatch. */
  add(tenant: string, streamId: string, watcher: Watcher<T>): () => void;
};

function createStreamWatchers<T>(services: GraphQLServices, definition: WatchDefinition<T>): StreamWatchers<T> {
  // By tenantKey: the same stream id in two tenants is two streams.
  const byStream = new Map<string, Set<Watcher<T>>>();
  let unsubscribe: (() => void) | undefined;
  const onChange = (changed: ChangedStreams, at: Position) => {
    const ids = changed === 'all' ? [...byStream.keys()] : [...changed].filter((id) => byStream.has(id));
    for (const key of ids) {
      const [tenant, id] = splitKey(key);
      inTenant(tenant, () => definition.read(services, id, at)).then(
        (value) => {
          if (value !== null) for (const watcher of byStream.get(key) ?? []) watcher.next(value, at);
        },
        (error: unknown) => {
          for (const watcher of byStream.get(key) ?? []) watcher.fail(error);
        },
      );
    }
  };
  return {
    add(tenant, streamId, watcher) {
      const key = tenantKey(tenant, streamId);
      let watchers = byStream.get(key);
      if (!watchers) byStream.set(key, (watchers = new Set()));
      watchers.add(watcher);
      unsubscribe ??= services.changes.subscribe(definition.projection, onChange);
      const mine = watchers;
      return () => {
        mine.delete(watcher);
        if (mine.size === 0 && byStream.get(key) === mine) byStream.delete(key);
        if (byStream.size === 0) {
          unsubscribe?.();
          unsubscribe = undefined;
        }
      };
    },
  };
}

const registries = new WeakMap<GraphQLServices, Map<WatchDefinition<unknown>, StreamWatchers<unknown>>>();

/** The watchers of `definition` on these services (one set per definition and services). */
export function watchersOf<T>(services: GraphQLServices, definition: WatchDefinition<T>): StreamWatchers<T> {
  let registry = registries.get(services);
  if (!registry) registries.set(services, (registry = new Map()));
  let watchers = registry.get(definition as WatchDefinition<unknown>);
  if (!watchers) {
    watchers = createStreamWatchers(services, definition as WatchDefinition<unknown>);
    registry.set(definition as WatchDefinition<unknown>, watchers);
  }
  return watchers as StreamWatchers<T>;
}

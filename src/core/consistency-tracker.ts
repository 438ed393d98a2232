// The consistency tracker, one per process: the latest known position of each projection, fed by local
// runners and by progress notifications from other processes. Waiters are resolved by pushes, never by
// polling.
import { comparePositions, isAtOrAfter, type Position } from './position.ts';

export type Progress = { projection: string; position: Position | null };

export type ConsistencyTracker = {
  /** Records progress; positions only move forward. */
  advance(projection: string, position: Position): void;
  position(projection: string): Position | null;
  /** Projection names known to this tracker. */
  projections(): string[];
  /** True when every named projection has processed `token`. */
  reached(token: Position, projections: readonly string[]): boolean;
  /**
   * Resolves { stale: false } as soon as every named projection has processed `token`, or
   * { stale: true } after `timeoutMs` (or when `signal` aborts).
   */
  waitFor(token: Position, projections: readonly string[], timeoutMs: number, signal?: AbortSignal): Promise<{ stale: boolean }>;
  /** Calls `listener` on every advance; returns the unsubscribe function. */
  subscribe(listener: (progress: Progress) => void): () => void;
  /** Waits in progress. */
  waiting(): number;
};

export function createConsistencyTracker(known: readonly string[] = []): ConsistencyTracker {
  const positions = new Map<string, Position | null>(known.map((name) => [name, null]));
  const listeners = new Set<(progress: Progress) => void>();
  type Waiter = { token: Position; projections: readonly string[]; resolve: () => void };
  const waiters = new Set<Waiter>();

  const reached = (token: Position, names: readonly string[]) =>
    names.every((name) => {
      const p = positions.get(name);
      return p != null && isAtOrAfter(p, token);
    });

  return {
    advance(projection, position) {
      const current = positions.get(projection);
      if (current != null && comparePositions(position, current) <= 0) return;
      positions.set(projection, position);
      for (const waiter of waiters) {
        if (waiter.projections.includes(projection) && reached(waiter.token, waiter.projections)) waiter.resolve();
      }
      for (const listener of listeners) listener({ projection, position });
    },
    position: (projection) => positions.get(projection) ?? null,
    projections: () => [...positions.keys()],
    reached,
    waitFor(token, projections, timeoutMs, signal) {
      if (reached(token, projections)) return Promise.resolve({ stale: false });
      if (signal?.aborted) return Promise.resolve({ stale: true });
      return new Promise((resolve) => {
        const finish = (stale: boolean) => {
          clearTimeout(timer);
          waiters.delete(waiter);
          signal?.removeEventListener('abort', onAbort);
          resolve({ stale });
        };
        const waiter: Waiter = { token, projections, resolve: () => finish(false) };
        const timer = setTimeout(() => finish(true), timeoutMs);
        const onAbort = () => finish(true);
        signal?.addEventListener('abort', onAbort, { once: true });
        waiters.add(waiter);
      });
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    waiting: () => waiters.size,
  };
}

// The consistency tracker, one per process: the latest known position of each projection (and process
// manager, with how far its effects reached), fed by local runners and by progress notifications from
// other processes. Waits are resolved by pushes, never by polling, and follow process managers: a wait
// on a projection that handles a process manager's effects first waits for that process manager to pass
// the token, then for the projection to reach what it appended by then (causal read-your-writes).
import { comparePositions, isAtOrAfter, maxPosition, type Position } from './position.ts';

export type Progress = { projection: string; position: Position | null };

/** How a wait went for one projection: how long until it reached the target (null: it did not), and the step that took it there. */
export type ProjectionWait = { projection: string; waitedMs: number | null; step?: string };

export type ConsistencyTracker = {
  /**
   * Records progress; positions only move forward. `effects`: a process manager's effects reached there;
   * `step`: the trace of the step that brought it there (see tracing.ts), for the waits it ends.
   */
  advance(projection: string, position: Position, effects?: Position | null, step?: string): void;
  position(projection: string): Position | null;
  /** Names known to this tracker. */
  projections(): string[];
  /** True when every named projection has processed `token` and what it caused (as far as known now). */
  reached(token: Position, projections: readonly string[]): boolean;
  /**
   * Where `projection` must be for `token`: the token, or past what the process managers it follows had
   * caused once they passed it; undefined while one of them has not passed it yet.
   */
  target(projection: string, token: Position): Position | undefined;
  /**
   * Resolves { stale: false } as soon as every named projection has processed `token` and what it
   * caused, or { stale: true } after `timeoutMs` or when `signal` aborts; `projections` says how long
   * each took and which step ended its part of the wait.
   */
  waitFor(
    token: Position,
    projections: readonly string[],
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<{ stale: boolean; projections: ProjectionWait[] }>;
  /** Calls `listener` on every advance; returns the unsubscribe function. */
  subscribe(listener: (progress: Progress) => void): () => void;
  /** Waits in progress. */
  waiting(): number;
};

/**
 * `known`: every projection and process manager name. `follows`: for each projection, the process
 * managers whose effects it handles.
 */
export function createConsistencyTracker(
  known: readonly string[] = [],
  follows: Readonly<Record<string, readonly string[]>> = {},
): ConsistencyTracker {
  const positions = new Map<string, Position | null>(known.map((name) => [name, null]));
  const effects = new Map<string, Position>();
  /** The step that last moved each projection, when known. */
  const steps = new Map<string, string>();
  const listeners = new Set<(progress: Progress) => void>();
  type Waiter = {
    token: Position;
    projections: readonly string[];
    /** Where each projection must be: the token, or past what the processes it follows had caused once they passed it. */
    targets: Map<string, Position>;
    started: number;
    /** Each projection's part of the wait, once it reached its target. */
    reached: Map<string, ProjectionWait>;
    resolve: () => void;
  };
  const waiters = new Set<Waiter>();

  const at = (name: string, token: Position) => {
    const p = positions.get(name);
    return p != null && isAtOrAfter(p, token);
  };

  /** The position `projection` must reach for `token`, once every process it follows has passed the token. */
  const targetOf = (projection: string, token: Position): Position | undefined => {
    let target = token;
    for (const process of follows[projection] ?? []) {
      if (!at(process, token)) return undefined;
      const caused = effects.get(process);
      if (caused) target = maxPosition(target, caused);
    }
    return target;
  };

  /** Fixes each target once known (so that a busy process cannot move it on forever), then checks them all. */
  const settled = (waiter: Waiter) =>
    waiter.projections.every((name) => {
      if (waiter.reached.has(name)) return true;
      let target = waiter.targets.get(name);
      if (!target) {
        target = targetOf(name, waiter.token);
        if (!target) return false;
        waiter.targets.set(name, target);
      }
      if (!at(name, target)) return false;
      waiter.reached.set(name, { projection: name, waitedMs: performance.now() - waiter.started, step: steps.get(name) });
      return true;
    });

  const report = (waiter: Waiter): ProjectionWait[] =>
    waiter.projections.map((name) => waiter.reached.get(name) ?? { projection: name, waitedMs: null });

  return {
    advance(projection, position, caused, step) {
      if (caused) {
        const known = effects.get(projection);
        if (!known || comparePositions(caused, known) > 0) effects.set(projection, caused);
      }
      const current = positions.get(projection);
      if (current != null && comparePositions(position, current) <= 0) return;
      positions.set(projection, position);
      if (step) steps.set(projection, step);
      else steps.delete(projection);
      for (const waiter of waiters) if (settled(waiter)) waiter.resolve();
      for (const listener of listeners) listener({ projection, position });
    },
    position: (projection) => positions.get(projection) ?? null,
    projections: () => [...positions.keys()],
    target: (projection, token) => targetOf(projection, token),
    reached: (token, projections) =>
      projections.every((name) => {
        const target = targetOf(name, token);
        return target !== undefined && at(name, target);
      }),
    waitFor(token, projections, timeoutMs, signal) {
      const waiter: Waiter = { token, projections, targets: new Map(), started: performance.now(), reached: new Map(), resolve: () => {} };
      if (settled(waiter)) return Promise.resolve({ stale: false, projections: report(waiter) });
      if (signal?.aborted) return Promise.resolve({ stale: true, projections: report(waiter) });
      return new Promise((resolve) => {
        const finish = (stale: boolean) => {
          clearTimeout(timer);
          waiters.delete(waiter);
          signal?.removeEventListener('abort', onAbort);
          resolve({ stale, projections: report(waiter) });
        };
        waiter.resolve = () => finish(false);
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

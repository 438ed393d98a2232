// A batch that failed is stepped through one event at a time: the events before the culprit commit, the
// culprit alone fails its projection (FAILED, with the error and its position), and an event that could
// not even be read stops it there too, visibly, rather than being retried for ever.
import { errorText, type Logger } from './logger.ts';
import type { StoredEvent } from './messages.ts';
import { encodeToken, START, type Position } from './position.ts';
import { EventsNotApplied, type ProjectionStorage, type StepResult, type StepTarget } from './projection.ts';

export type BisectionDeps<Tx> = {
  name: string;
  storage: ProjectionStorage<Tx>;
  apply: (events: StoredEvent[], tx: Tx) => Promise<void>;
  /** Errors that are not the event's fault (the database is away): rethrown, so that the step is tried again. */
  isTransient: (error: unknown) => boolean;
  /** Each event committed on the live target moved the checkpoint here (with a process manager's effects). */
  advanced: (position: Position, effects: Position | null | undefined) => void;
  log: Logger;
};

/** Steps through up to `count` events after `from`; 'failed' once one failed its projection. */
export async function bisectFailure<Tx>(
  deps: BisectionDeps<Tx>,
  target: StepTarget,
  from: Position | null,
  count: number,
): Promise<StepResult | 'failed'> {
  const { name, storage, log } = deps;
  let at = from;
  for (let n = 0; n < count; n++) {
    let current: StoredEvent | undefined;
    try {
      const result = await storage.step(name, target, at, 1, (events, tx) => {
        current = events[0];
        return deps.apply(events, tx);
      });
      if (result.kind === 'stale') return result;
      if (result.to === null) return { kind: 'applied', read: 0, to: at }; // the failure did not repeat
      at = result.to;
      if (target === 'live') deps.advanced(at, result.effects);
    } catch (error) {
      if (deps.isTransient(error)) throw error;
      const message = errorText(error);
      if (error instanceof EventsNotApplied) current ??= error.events[0];
      if (!current) {
        log.error({ projection: name, target, error: message }, 'projection failed reading an event');
        await storage.fail(name, `reading the event after the checkpoint: ${message}`, at ?? START);
        return 'failed';
      }
      log.error(
        { projection: name, target, position: encodeToken(current.position), type: current.type, error: message },
        'projection failed on an event',
      );
      await storage.fail(name, `${current.type} at ${current.streamId}@${current.version}: ${message}`, current.position);
      return 'failed';
    }
  }
  return { kind: 'applied', read: count, to: at };
}

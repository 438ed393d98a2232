// One-event appends without a commandId that arrive together (concurrent requests of one tenant) share one statement
// and one commit, each with its own expected-version check (docs/decisions/shared-appends.md). An append
// whose row does not come back is answered as on its own: a conflict, or for `any` a retry alone.
import { ConcurrencyConflictError } from '../../core/errors.ts';
import type { AppendOptions, AppendResult, EventSchemas, NewEvent } from '../../core/event-store.ts';
import { createMicroBatcher } from '../../core/micro-batch.ts';
import { positionFromDb } from '../../core/position.ts';
import { tenantOrDefault } from '../../core/tenancy.ts';
import type { Executor } from '../../core/sql.ts';
import { isRefusedByServer } from '../db/errors.ts';
import { SHARED_APPEND_TEXT, sharedAppendRow } from './append-statements.ts';

export type OneAppend = { streamId: string; event: NewEvent; options: AppendOptions };

type Deps = {
  db: Executor;
  schemas: EventSchemas;
  /** The append on a statement of its own. */
  alone(append: OneAppend): Promise<AppendResult>;
  streamVersion(streamId: string): Promise<number>;
};

/** The most appends that share one statement. */
const MAX_SHARED = 200;

/** A promise answered to its caller later: marked as handled now, so that it may reject before then. */
const later = <T>(promise: Promise<T>) => {
  promise.catch(() => {});
  return promise;
};

export function createSharedAppends(deps: Deps): (append: OneAppend) => Promise<AppendResult> {
  const { db, schemas } = deps;
  const alone = (append: OneAppend) => later(deps.alone(append));

  const conflictOf = async (append: OneAppend, expected: number | 'no_stream') =>
    new ConcurrencyConflictError(append.streamId, expected, await deps.streamVersion(append.streamId));

  const appendTogether = async (appends: readonly OneAppend[]): Promise<(AppendResult | Error | Promise<AppendResult>)[]> => {
    if (appends.length === 1) return [alone(appends[0]!)];
    const answers: (AppendResult | Error | Promise<AppendResult>)[] = new Array(appends.length);
    // A second append to a stream of this statement would race the first for its version: alone.
    const shared = new Map<string, number>();
    appends.forEach((append, i) => {
      if (shared.has(append.streamId)) answers[i] = alone(append);
      else shared.set(append.streamId, i);
    });
    const indexes = [...shared.values()];
    let payload: string;
    try {
      payload = JSON.stringify(indexes.map((i) => sharedAppendRow(appends[i]!.streamId, appends[i]!.event, appends[i]!.options, schemas)));
    } catch {
      // An event that cannot be serialised (nothing was sent): each alone, so only its caller fails.
      for (const i of indexes) answers[i] = alone(appends[i]!);
      return answers;
    }
    let rows: { stream_id: string; version: number; tx: string; pos: string }[];
    try {
      rows = await db.query(SHARED_APPEND_TEXT, [payload, tenantOrDefault()]);
    } catch (error) {
      // Refused by the server, the statement rolled back: each goes again alone, so that its own error
      // reaches its own caller. A lost connection leaves the outcome unknown: nothing is retried.
      for (const i of indexes) answers[i] = isRefusedByServer(error) ? alone(appends[i]!) : (error as Error);
      return answers;
    }
    const byStream = new Map(rows.map((row) => [row.stream_id, row]));
    for (const i of indexes) {
      const append = appends[i]!;
      const row = byStream.get(append.streamId);
      const expected = append.options.expectedVersion;
      if (row) answers[i] = { streamId: append.streamId, version: row.version, position: positionFromDb(row.tx, row.pos) };
      // Not appended: `any` lost a race for its version number (again, alone); else the expectation was wrong.
      else answers[i] = expected === 'any' ? alone(append) : later(conflictOf(append, expected).then((e) => Promise.reject(e)));
    }
    return answers;
  };

  return createMicroBatcher(appendTogether, { maxBatch: MAX_SHARED });
}

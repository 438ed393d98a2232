// Feeds a process's consistency tracker with the progress of projections run anywhere: one LISTEN on
// the progress channel, and a full re-read of the checkpoints whenever that listener (re)connects, so
// progress announced while it was away is not missed.
import type { ConsistencyTracker } from '../../core/consistency-tracker.ts';
import type { Database } from '../db/database.ts';
import { loadProjectionRecords, parseProgressPayload, PROGRESS_CHANNEL } from './projection-records.ts';

export async function startProgressFeed(
  database: Database,
  tracker: ConsistencyTracker,
  onError: (error: unknown) => void = () => {},
): Promise<() => Promise<void>> {
  const reload = async () => {
    for (const record of await loadProjectionRecords(database, tracker.projections())) {
      if (record.position) tracker.advance(record.name, record.position, record.effects);
    }
  };
  const unlisten = await database.listen(
    PROGRESS_CHANNEL,
    (payload) => {
      try {
        const progress = parseProgressPayload(payload);
        if (progress) tracker.advance(progress.name, progress.position, progress.effects, progress.trace);
      } catch (error) {
        onError(error);
      }
    },
    () => void reload().catch(onError),
  );
  await reload();
  return unlisten;
}

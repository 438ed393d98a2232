// The wake-up notification for appends, sent after their commit and never inside it: a NOTIFY holds a
// server-wide lock from pre-commit until its commit record is flushed, which serialises every notifying
// commit (docs/decisions/append-notifier.md). At most one is in flight: a poke meanwhile asks for one
// more after it, so every append is followed by a notification sent after its commit. One lost to a crash
// between commit and NOTIFY only delays readers until their fallback poll.
import { sql } from 'drizzle-orm';
import type { Executor } from '../../core/sql.ts';

export const EVENTS_CHANNEL = 'converge_events';

export type AppendNotifier = {
  /** An append committed: make sure a notification goes out after it. */
  poke(): void;
};

export function createAppendNotifier(db: Executor, onError: (error: unknown) => void = () => {}): AppendNotifier {
  let inFlight = false;
  let again = false;
  const send = async () => {
    inFlight = true;
    do {
      again = false;
      try {
        await db.rows(sql`select pg_notify(${EVENTS_CHANNEL}, '')`);
      } catch (error) {
        onError(error);
      }
    } while (again);
    inFlight = false;
  };
  return {
    poke() {
      if (inFlight) again = true;
      else void send();
    },
  };
}

// Commit marks: for each projection, a WAL position of the primary at or after the commit of the step
// that brought it to a position. A replica that has replayed that far shows the read model at least as
// new as that position. The runner sends a mark after each step's commit (commitMarkStatement); after
// the listener (re)connects, every projection's checkpoint is read with the primary's WAL position then.
import { sql, type SQL } from 'drizzle-orm';
import { freshRead } from '../../core/fresh-read.ts';
import { isAtOrAfter, positionFromDb, type Position } from '../../core/position.ts';
import type { Database } from '../db/database.ts';
import { parseLsn } from './lsn.ts';

export const COMMIT_MARK_CHANNEL = 'converge_commit_marks';
/** How long a read waits for a mark on its way before it reads the checkpoints instead. */
const MARK_GRACE_MS = 5;

/**
 * Sent after a step committed: "<projection> <tx> <pos> <lsn>". The insert position, read after the
 * commit, is past the commit record. Replicas only receive flushed WAL, and the step committed
 * asynchronously: the message (a WAL record of this transaction) makes this commit a synchronous one
 * (at least `local`, whatever the role or server sets), which flushes the step's commit too before the
 * notification goes out.
 */
export const commitMarkStatement = (name: string, position: Position): SQL =>
  sql`select pg_notify(${COMMIT_MARK_CHANNEL}, ${`${name} ${position.tx} ${position.pos} `} || pg_current_wal_insert_lsn()::text),
    pg_logical_emit_message(true, 'converge', 'commit mark'), set_config('synchronous_commit', 'local', true)`;

export type CommitMarks = {
  /** Listens for marks; until then (and while the listener is away) reads wait for them, then use the primary. */
  start(): Promise<void>;
  /**
   * The WAL position after which `projection` is at `position` or further; undefined at `deadline`
   * (epoch ms). A mark not here within a few milliseconds is read from the checkpoints (one read shared
   * by all who ask).
   */
  lsnFor(projection: string, position: Position, deadline: number): Promise<bigint | undefined>;
  stop(): Promise<void>;
};

type Mark = { position: Position; lsn: bigint };

export function createCommitMarks(database: Database, onError: (error: unknown) => void): CommitMarks {
  const marks = new Map<string, Mark>();
  const waiters = new Set<{ projection: string; position: Position; resolve: (lsn: bigint) => void }>();

  const record = (projection: string, position: Position, lsn: bigint) => {
    const known = marks.get(projection);
    if (known && !isAtOrAfter(position, known.position)) return;
    marks.set(projection, { position, lsn });
    for (const waiter of waiters) {
      if (waiter.projection === projection && isAtOrAfter(position, waiter.position)) waiter.resolve(lsn);
    }
  };

  const reload = async () => {
    // One statement: its WAL position is read after the snapshot that shows these checkpoints.
    const rows = await database.rows<{ name: string; tx: string; pos: string; lsn: string }>(sql`select name, position_tx::text as tx,
        position::text as pos, pg_current_wal_insert_lsn()::text as lsn from projections`);
    for (const row of rows) record(row.name, positionFromDb(row.tx, row.pos), parseLsn(row.lsn));
  };
  const reloadNow = freshRead(reload);

  let unlisten: (() => Promise<void>) | undefined;

  return {
    async start() {
      unlisten = await database.listen(
        COMMIT_MARK_CHANNEL,
        (payload) => {
          try {
            const [name, tx, pos, lsn] = payload.split(' ');
            if (name && tx && pos && lsn) record(name, positionFromDb(tx, pos), parseLsn(lsn));
          } catch (error) {
            onError(error);
          }
        },
        () => void reload().catch(onError),
      );
      await reload();
    },
    lsnFor(projection, position, deadline) {
      const known = marks.get(projection);
      if (known && isAtOrAfter(known.position, position)) return Promise.resolve(known.lsn);
      const left = deadline - Date.now();
      if (left <= 0) return Promise.resolve(undefined);
      return new Promise((resolve) => {
        const waiter = {
          projection,
          position,
          resolve: (lsn: bigint | undefined) => {
            clearTimeout(timer);
            clearTimeout(ask);
            waiters.delete(waiter);
            resolve(lsn);
          },
        };
        const timer = setTimeout(() => waiter.resolve(undefined), left);
        // It is usually on its way (a round trip after the progress); if not soon, it may be lost or never
        // sent (the runner's process has no replicas set): read the checkpoints then.
        const ask = setTimeout(() => void reloadNow().catch(onError), Math.min(MARK_GRACE_MS, left));
        waiters.add(waiter);
      });
    },
    stop: async () => unlisten?.(),
  };
}

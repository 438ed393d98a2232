// The append lock (drizzle/0006, docs/decisions/event-horizon.md): every statement that inserts events
// holds it, shared, until its transaction ends, and readers wait for its holders only. When one of them
// runs long it holds every reader back: this names the oldest, for status, metrics and the log.
import { sql } from 'drizzle-orm';
import type { Executor } from '../../core/sql.ts';

/** The oldest append in flight: its backend's pid, how long its transaction has run, what it waits on. */
export type AppendInFlight = { pid: number; seconds: number; waitingOn: string | null };

export async function oldestAppendInFlight(db: Executor): Promise<AppendInFlight | null> {
  const [row] = await db.rows<{ pid: number; seconds: number; waiting_on: string | null }>(sql`
    select a.pid, extract(epoch from clock_timestamp() - a.xact_start)::float8 as seconds,
      case when a.wait_event is null then null else a.wait_event_type || ': ' || a.wait_event end as waiting_on
    from pg_locks l join pg_stat_activity a on a.pid = l.pid
    where l.locktype = 'advisory' and l.database = (select oid from pg_database where datname = current_database())
      and l.classid = 1129727559 and l.objid = 1 and l.objsubid = 2 and l.granted and a.xact_start is not null
    order by a.xact_start limit 1`);
  return row ? { pid: row.pid, seconds: Math.max(0, row.seconds), waitingOn: row.waiting_on } : null;
}

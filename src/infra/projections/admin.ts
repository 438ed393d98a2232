// Projection status, the log's head and the admin operations (pause, resume, rebuild). Any process may call
// them: they change the projection's row and notify the process that runs it.
import { sql } from 'drizzle-orm';
import { assertOperator as assertOperatorIn, type Caller } from '../../core/caller.ts';
import { ForbiddenError } from '../../core/errors.ts';
import { NotFoundError, RuleViolationError } from '../../core/errors.ts';
import type { HeldBackBy, LogHead, ProcessorKind, ProjectionAdmin, ProjectionStatus } from '../../core/projection.ts';
import type { Tenancy } from '../../core/tenancy.ts';
import { positionFromDb, START, type Position } from '../../core/position.ts';
import { isoTime } from '../../core/sql.ts';
import type { Database } from '../db/database.ts';
import { oldestAppendInFlight } from '../event-store/append-lock.ts';
import { VISIBLE_TEXT } from '../event-store/event-rows.ts';
import { CONTROL_CHANNEL, ensureProjectionRow, loadProjectionRecords } from './projection-records.ts';

/** Visible events after `from`, and the age in seconds of the oldest of them. */
async function lag(database: Database, from: Position | null) {
  const start = from ?? START;
  const [row] = await database.rows<{ n: number; seconds: number | null }>(sql`select count(*)::int as n,
      extract(epoch from now() - min(created_at))::float8 as seconds
    from events
    where (transaction_id, global_position) > (${start.tx.toString()}::xid8, ${start.pos.toString()}::bigint) and ${sql.raw(VISIBLE_TEXT)}`);
  return { events: row?.n ?? 0, seconds: Math.max(0, row?.seconds ?? 0) };
}

/** The last visible event (read backwards on the global order's index) and the sequence's highest value (the key's). */
async function logHead(database: Database): Promise<LogHead> {
  const [row] = await database.rows<{ tx: string | null; pos: string | null; at: string | null; appended: string; sampled: string }>(sql`
    select head.tx, head.pos, head.at, (select coalesce(max(global_position), 0) from events)::text as appended,
      ${sql.raw(isoTime('clock_timestamp()'))} as sampled
    from (select 1) as one left join lateral (
      select transaction_id::text as tx, global_position::text as pos, ${sql.raw(isoTime('created_at'))} as at from events
      where ${sql.raw(VISIBLE_TEXT)} order by transaction_id desc, global_position desc limit 1) as head on true`);
  return {
    position: row?.tx && row.pos ? positionFromDb(row.tx, row.pos) : null,
    appendedAt: row?.at ?? null,
    appendedEvents: Number(row?.appended ?? 0),
    sampledAt: row!.sampled,
  };
}

/** `names`: every processor; `kinds`: the kind of each that is not a plain projection (a process manager, a publisher). */
export function createProjectionAdmin(
  database: Database,
  names: readonly string[],
  kinds: Readonly<Record<string, ProcessorKind>> = {},
  tenancy: Tenancy = 'single',
): ProjectionAdmin {
  // Who may see and steer the projections (the console included): the one place that says so.
  const assertOperator = (caller: Caller, what: string) => assertOperatorIn(caller, what, tenancy);
  // Rows are never deleted, so once is enough per process (status runs on every /metrics scrape).
  let ensured: Promise<void> | undefined;
  const ensureRows = () =>
    (ensured ??= Promise.all(names.map((name) => ensureProjectionRow(database, name))).then(
      () => undefined,
      (error: unknown) => {
        ensured = undefined; // the database was away: try again next time
        throw error;
      },
    ));

  /** The append every projection waits for, when one has run for a second or more. */
  const heldBackBy = async (): Promise<HeldBackBy | undefined> => {
    const oldest = await oldestAppendInFlight(database);
    return oldest && oldest.seconds >= 1 ? { backendPid: oldest.pid, seconds: oldest.seconds, waitingOn: oldest.waitingOn } : undefined;
  };

  const statusOf = async (name: string): Promise<ProjectionStatus> => {
    const [record] = await loadProjectionRecords(database, [name]);
    if (!record) throw new NotFoundError(`No projection named ${name}`);
    const rebuilding = record.state === 'REBUILDING';
    const [behind, shadow] = await Promise.all([lag(database, record.position), rebuilding ? lag(database, record.rebuildPosition) : null]);
    const kind = kinds[name] ?? 'PROJECTION';
    return { ...record, kind, lagEvents: behind.events, lagSeconds: behind.seconds, rebuildLagEvents: shadow?.events ?? null };
  };

  const change = async (name: string, caller: Caller, update: ReturnType<typeof sql>, allowedFrom: string[], what: string) => {
    assertOperator(caller, `${what} a projection`);
    if (!names.includes(name)) throw new NotFoundError(`No projection named ${name}; there are ${names.join(', ')}`);
    await ensureRows();
    const changed = await database.rows(sql`update projections set ${update}, updated_at = now()
      where name = ${name} and state = any(array[${sql.join(
        allowedFrom.map((s) => sql`${s}`),
        sql`, `,
      )}]::text[])
      returning name`);
    if (changed.length === 0) {
      const current = await statusOf(name);
      throw new RuleViolationError(`Cannot ${what} projection ${name} while it is ${current.state}`);
    }
    await database.rows(sql`select pg_notify(${CONTROL_CHANNEL}, ${name})`);
    return statusOf(name);
  };

  return {
    assertOperator,
    assertFollowsProgress(caller) {
      // Positions count every tenant's events: where there are many tenants, only for operators.
      if (tenancy === 'multi' && !caller.system && !caller.roles.includes('operator'))
        throw new ForbiddenError("Only an operator may follow the projections' progress (TENANCY=multi); await your writes with after:");
    },
    async head(caller) {
      assertOperator(caller, "see the event log's head");
      return logHead(database);
    },
    async status(caller) {
      assertOperator(caller, 'see the projections');
      await ensureRows();
      const [statuses, held] = await Promise.all([Promise.all(names.map(statusOf)), heldBackBy()]);
      return held ? statuses.map((status) => ({ ...status, heldBackBy: held })) : statuses;
    },
    ensure: async () => {
      await ensureRows();
    },
    pause: (name, caller) => change(name, caller, sql`state = 'PAUSED'`, ['RUNNING', 'REBUILDING', 'FAILED'], 'pause'),
    resume: (name, caller) =>
      change(
        name,
        caller,
        sql`state = case when rebuild_requested then 'REBUILDING' else 'RUNNING' end,
          last_error = null, error_position_tx = null, error_position = null`,
        ['PAUSED', 'FAILED'],
        'resume',
      ),
    rebuild: async (name, caller) => {
      assertOperator(caller, 'rebuild a projection');
      if (kinds[name] === 'PROCESS_MANAGER') {
        throw new RuleViolationError(`${name} is a process manager: its effects are commands, not tables, so it cannot be rebuilt`);
      }
      if (kinds[name] === 'PUBLISHER') {
        throw new RuleViolationError(`${name} is a publisher: its effects are messages, not tables, so it cannot be rebuilt`);
      }
      return change(
        name,
        caller,
        sql`state = 'REBUILDING', rebuild_requested = true, rebuild_position_tx = null, rebuild_position = null,
          last_error = null, error_position_tx = null, error_position = null`,
        ['RUNNING', 'PAUSED', 'FAILED', 'REBUILDING'],
        'rebuild',
      );
    },
  };
}

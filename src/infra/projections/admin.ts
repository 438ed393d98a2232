// Projection status and the admin operations (pause, resume, rebuild). Any process may call these: they
// change the projection's row and notify the process that runs it.
import { sql } from 'drizzle-orm';
import { assertAdmin, type Caller } from '../../core/caller.ts';
import { NotFoundError, RuleViolationError } from '../../core/errors.ts';
import type { ProjectionStatus } from '../../core/projection.ts';
import type { Database } from '../db/client.ts';
import { createProjectionStorage, CONTROL_CHANNEL, loadProjectionRecords } from './postgres-projection-storage.ts';
import type { PostgresEventStore } from '../event-store/postgres-event-store.ts';

/** Every operation takes its caller: only an admin may see or change projections. */
export type ProjectionAdmin = {
  status(caller: Caller): Promise<ProjectionStatus[]>;
  pause(name: string, caller: Caller): Promise<ProjectionStatus>;
  resume(name: string, caller: Caller): Promise<ProjectionStatus>;
  rebuild(name: string, caller: Caller): Promise<ProjectionStatus>;
  /** Creates the missing rows (at start-up). */
  ensure(): Promise<void>;
};

export function createProjectionAdmin(database: Database, store: PostgresEventStore, names: readonly string[]): ProjectionAdmin {
  const storage = createProjectionStorage(database, store);

  // Rows are never deleted, so once is enough per process (status runs on every /metrics scrape).
  let ensured: Promise<void> | undefined;
  const ensureRows = () =>
    (ensured ??= Promise.all(
      names.map((name) => database.rows(sql`insert into projections (name) values (${name}) on conflict (name) do nothing`)),
    ).then(
      () => undefined,
      (error: unknown) => {
        ensured = undefined; // the database was away: try again next time
        throw error;
      },
    ));

  const statusOf = async (name: string): Promise<ProjectionStatus> => {
    const [record] = await loadProjectionRecords(database, [name]);
    if (!record) throw new NotFoundError(`No projection named ${name}`);
    const lag = await storage.lag(record.position);
    return { ...record, lagEvents: lag.events, lagSeconds: lag.seconds };
  };

  const change = async (name: string, caller: Caller, update: ReturnType<typeof sql>, allowedFrom: string[], what: string) => {
    assertAdmin(caller, `${what} a projection`);
    if (!names.includes(name)) throw new NotFoundError(`No projection named ${name}; there are ${names.join(', ')}`);
    await ensureRows();
    const changed = await database.rows(sql`update projections set ${update}, updated_at = now()
      where name = ${name} and state = any(array[${sql.join(allowedFrom.map((s) => sql`${s}`), sql`, `)}]::text[])
      returning name`);
    if (changed.length === 0) {
      const current = await statusOf(name);
      throw new RuleViolationError(`Cannot ${what} projection ${name} while it is ${current.state}`);
    }
    await database.rows(sql`select pg_notify(${CONTROL_CHANNEL}, ${name})`);
    return statusOf(name);
  };

  return {
    async status(caller) {
      assertAdmin(caller, 'see the projections');
      await ensureRows();
      return Promise.all(names.map(statusOf));
    },
    ensure: async () => {
      await ensureRows();
    },
    pause: (name, caller) => change(name, caller, sql`state = 'PAUSED'`, ['RUNNING', 'REBUILDING', 'FAILED'], 'pause'),
    resume: (name, caller) =>
      change(
        name,
        caller,
        sql`state = case when rebuild_position is null then 'RUNNING' else 'REBUILDING' end,
          last_error = null, error_position_tx = null, error_position = null`,
        ['PAUSED', 'FAILED'],
        'resume',
      ),
    rebuild: (name, caller) =>
      change(
        name,
        caller,
        sql`state = 'REBUILDING', rebuild_position_tx = null, rebuild_position = null,
          last_error = null, error_position_tx = null, error_position = null`,
        ['RUNNING', 'PAUSED', 'FAILED', 'REBUILDING'],
        'rebuild',
      ),
  };
}

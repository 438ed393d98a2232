// The `projections` table: one row per projection with its state, its checkpoint and, while a rebuild
// runs, the shadow copy's position; and the notifications that announce changes to it.
import { sql } from 'drizzle-orm';
import { decodeToken, positionFromDb, type Position } from '../../core/position.ts';
import type { ProjectionRecord, ProjectionState } from '../../core/projection.ts';
import { isoTime, textArray, type Executor } from '../../core/sql.ts';

/**
 * Progress notifications, sent with each checkpoint's move: "<projection> <transaction id> <position>",
 * and for a process manager whose commands appended events, " <transaction id> <position>" of the furthest.
 */
export const PROGRESS_CHANNEL = 'converge_progress';
/** An admin changed a projection's state: the payload is its name. */
export const CONTROL_CHANNEL = 'converge_projection_control';

export type RecordRow = {
  name: string;
  state: ProjectionState;
  tx: string;
  pos: string;
  last_error: string | null;
  error_tx: string | null;
  error_pos: string | null;
  rebuild_tx: string | null;
  rebuild_pos: string | null;
  effects_tx: string | null;
  effects_pos: string | null;
  updated_at: string | null;
};

export const RECORD_COLUMNS = sql.raw(`name, state, position_tx::text as tx, position::text as pos, last_error,
  error_position_tx::text as error_tx, error_position::text as error_pos,
  rebuild_position_tx::text as rebuild_tx, rebuild_position::text as rebuild_pos,
  effects_tx::text as effects_tx, effects::text as effects_pos, ${isoTime('updated_at')} as updated_at`);

const optionalPosition = (tx: string | null, pos: string | null) => (tx !== null && pos !== null ? positionFromDb(tx, pos) : null);

export function toRecord(row: RecordRow): ProjectionRecord {
  const position = positionFromDb(row.tx, row.pos);
  return {
    name: row.name,
    state: row.state,
    position: position.tx === 0n && position.pos === 0n ? null : position,
    lastError: row.last_error,
    errorPosition: optionalPosition(row.error_tx, row.error_pos),
    rebuildPosition: optionalPosition(row.rebuild_tx, row.rebuild_pos),
    effects: optionalPosition(row.effects_tx, row.effects_pos),
    updatedAt: row.updated_at,
  };
}

export async function loadProjectionRecords(db: Executor, names?: readonly string[]): Promise<ProjectionRecord[]> {
  const rows = await db.rows<RecordRow>(
    names
      ? sql`select ${RECORD_COLUMNS} from projections where name = any(${textArray(names)})`
      : sql`select ${RECORD_COLUMNS} from projections`,
  );
  return rows.map(toRecord);
}

export const ensureProjectionRow = (db: Executor, name: string) =>
  db.rows(sql`insert into projections (name) values (${name}) on conflict (name) do nothing`);

export const progressPayload = (name: string, position: Position, effects?: Position | null) =>
  `${name} ${position.tx} ${position.pos}${effects ? ` ${effects.tx} ${effects.pos}` : ''}`;

/**
 * Reads a progress payload; also the older "<projection> <token>" form. A last word with dashes is the
 * trace of the step (a W3C traceparent, with tracing on; positions are digits).
 */
export function parseProgressPayload(
  payload: string,
): { name: string; position: Position; effects: Position | null; trace?: string } | null {
  const words = payload.split(' ');
  const trace = words.length > 2 && words.at(-1)!.includes('-') ? words.pop() : undefined;
  const [name, a, b, c, d] = words;
  if (!name || !a) return null;
  const position = b === undefined ? decodeToken(a) : positionFromDb(a, b);
  return { name, position, effects: c && d ? positionFromDb(c, d) : null, ...(trace && { trace }) };
}

// A blue/green rebuild's steps: shadow copies made empty, filled one batch per transaction (moving the
// shadow checkpoint), and swapped in for the live tables in one transaction once caught up
// (docs/architecture.md, Projections).
import { sql } from 'drizzle-orm';
import { comparePositions, isAtOrAfter, START, type Position } from '../../core/position.ts';
import type { StepResult } from '../../core/projection.ts';
import { batchEvents, type BatchRow } from './batch-rows.ts';
import { batchStatement } from './batch-statement.ts';
import type { LiveStepDeps } from './live-step.ts';
import { PROGRESS_CHANNEL, progressPayload, RECORD_COLUMNS, type RecordRow, toRecord } from './projection-records.ts';
import { createShadowTables, shadowMatchesLive, swapInShadowTables, useShadow } from './shadow-tables.ts';
import { quoteIdent } from './sql-text.ts';
import type { Apply } from './step-apply.ts';

/** Empty (re)created shadow copies of `tables`, and the rebuild position at the start, if still REBUILDING. */
export async function prepareShadow({ database }: LiveStepDeps, name: string, tables: readonly string[]): Promise<void> {
  await database.transaction(async (tx) => {
    const [row] = await tx.rows<{ state: string }>(sql`select state from projections where name = ${name} for update`);
    if (row?.state !== 'REBUILDING') return;
    await createShadowTables(tx, name, tables);
    await tx.rows(sql`update projections set rebuild_position_tx = '0'::xid8, rebuild_position = 0 where name = ${name}`);
  });
}

/** One batch into the shadow copies, with the shadow checkpoint's move, in one transaction. */
export function shadowStep(deps: LiveStepDeps, name: string, from: Position | null, limit: number, apply: Apply): Promise<StepResult> {
  const start = from ?? START;
  return deps.database.transaction(async (tx) => {
    const rows = await tx.query<BatchRow>(batchStatement('shadow', limit), [name, start.tx.toString(), start.pos.toString()]);
    const { events, pending, moved } = batchEvents(rows, deps.store.toStoredEvent);
    const last = events.at(-1);
    if (!last) return { kind: 'applied', read: 0, to: null, pending } as const;
    if (!moved.has(name)) return { kind: 'stale' } as const;
    await useShadow(tx, name);
    await deps.prepared.applyIn(tx, name, events, apply);
    return { kind: 'applied', read: events.length, to: last.position, pending } as const;
  });
}

/**
 * In one transaction: what the shadow copies still lack, then the copies swapped in for the live tables,
 * and the shadow position made the live one.
 */
export async function swap(
  deps: LiveStepDeps,
  name: string,
  tables: readonly string[],
  from: Position | null,
  apply: Apply,
): Promise<StepResult> {
  const { database, store, prepared } = deps;
  const result = await database.transaction(async (tx): Promise<StepResult> => {
    // The live tables first, then the row, in the order a live step takes them (its one statement locks
    // the tables it writes, then the row): the other way round, the two could deadlock.
    if (tables.length > 0) {
      await tx.rows(sql.raw(`lock table ${tables.map((t) => `public.${quoteIdent(t)}`).join(', ')} in access exclusive mode`));
    }
    const [row] = await tx.rows<RecordRow>(sql`select ${RECORD_COLUMNS} from projections where name = ${name} for update`);
    const record = row && toRecord(row);
    const start = from ?? START;
    const rebuildAt = record?.rebuildPosition;
    if (record?.state !== 'REBUILDING' || !rebuildAt || comparePositions(rebuildAt, start) !== 0) return { kind: 'stale' };
    // A migration changed the live tables in a way completeShadow could not follow: start over.
    if (!(await shadowMatchesLive(tx, name, tables))) {
      await tx.rows(sql`update projections set rebuild_position_tx = null, rebuild_position = null where name = ${name}`);
      return { kind: 'stale' };
    }
    await useShadow(tx, name);
    // Everything the live copy has seen is visible now, so the shadow ends at or after it.
    let at = start;
    for (;;) {
      const events = await store.readAllWith(tx, at, 1000);
      if (events.length === 0) break;
      await prepared.applyIn(tx, name, events, apply);
      at = events.at(-1)!.position;
    }
    await swapInShadowTables(tx, name, tables);
    const live = record.position ?? START;
    // Never move the live checkpoint backwards.
    const to = isAtOrAfter(at, live) ? at : live;
    await tx.rows(sql`update projections set state = 'RUNNING', rebuild_requested = false, rebuild_position_tx = null, rebuild_position = null,
        position_tx = ${to.tx.toString()}::xid8, position = ${to.pos.toString()}::bigint, updated_at = now()
      where name = ${name}`);
    if (to.tx !== 0n || to.pos !== 0n) await tx.rows(sql`select pg_notify(${PROGRESS_CHANNEL}, ${progressPayload(name, to)})`);
    return { kind: 'applied', read: 0, to };
  });
  // The tables swapped in were filled from empty: fresh statistics, as after a live catch-up.
  if (result.kind === 'applied') {
    if (result.to) deps.committed?.(name, result.to);
    deps.catchUps.analyze(name).catch(() => {});
  }
  return result;
}

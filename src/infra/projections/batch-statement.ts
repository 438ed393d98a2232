// The statement that reads a projection step's batch, in one round trip: up to `limit` visible events
// after the checkpoint ($2, $3) in global order, and whether more lie beyond them (held back by an open
// older transaction, or past the limit). One row per event, or one row of nulls when there is none.
import type { CompiledLookups } from './lookups.ts';
import { EVENT_COLUMNS_TEXT, VISIBLE_TEXT } from '../event-store/event-rows.ts';

/**
 * `live`: the batch of one or more projections at the same checkpoint ($1, a JSON array of their names:
 * see shared-steps.ts). The statement also says which of them are still at that checkpoint and may run
 * (`moved`; the moves themselves come with the writes), and carries the lookups of those given some
 * (`found`, on the first row, one entry per projection: docs/decisions/lookups-with-the-batch.md).
 * `shadow`: one projection ($1, its name); the statement moves its rebuild's shadow checkpoint by
 * compare-and-set, inside the rebuild step's transaction, whose commit it makes asynchronous and whose
 * statements it plans per call (docs/decisions/async-commit.md, docs/decisions/lookup-plans.md).
 * Either way `moved` lists the projections it holds for. The limit is part of the text, so that a kept
 * plan knows it as a custom one would (docs/decisions/batch-read-plans.md).
 */
function batchText(target: 'live' | 'shadow', limit: number, lookups: readonly (CompiledLookups | undefined)[]): string {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new Error(`a batch limit must be a positive integer, got ${limit}`);
  const moved =
    target === 'live'
      ? `(select coalesce(json_agg(name), '[]'::json) from projections
          where name in (select jsonb_array_elements_text($1::jsonb)) and position_tx = $2::xid8 and position = $3::bigint
          and state in ('RUNNING', 'REBUILDING'))`
      : `(select coalesce(json_agg(name), '[]'::json) from moved)`;
  const shadowMove =
    target === 'live'
      ? ''
      : `, moved as (
      update projections set rebuild_position_tx = last.transaction_id, rebuild_position = last.global_position
      from last where name = $1 and rebuild_position_tx = $2::xid8 and rebuild_position = $3::bigint and state = 'REBUILDING'
      returning name, set_config('synchronous_commit', 'off', true) as commit_mode,
        set_config('plan_cache_mode', 'force_custom_plan', true) as plan_mode)`;
  // Each projection's lookups under a prefix of its own: m0_lookup_0, m1_lookup_0, …
  const found = lookups.map((l, j) => l?.overBatch(`m${j}_`));
  const ctes = found.flatMap((f) => (f ? [f.ctes] : []));
  return `with batch as (
      select * from events
      where (transaction_id, global_position) > ($2::xid8, $3::bigint) and ${VISIBLE_TEXT}
      order by transaction_id, global_position limit ${limit}
    ), last as (
      select transaction_id, global_position from batch order by transaction_id desc, global_position desc limit 1
    )${shadowMove}${ctes.length > 0 ? `,\n${ctes.join(',\n')}` : ''}
    select ${EVENT_COLUMNS_TEXT}, ${moved} as moved,${
      ctes.length > 0
        ? ` case when batch.global_position is not null and row_number() over (order by batch.transaction_id, batch.global_position) = 1
          then json_build_array(${found.map((f) => f?.result ?? 'null').join(', ')}) end as found,`
        : ''
    }
      (select global_position from events where (transaction_id, global_position) > (
          coalesce((select transaction_id from last), $2::xid8), coalesce((select global_position from last), $3::bigint))
        order by transaction_id, global_position limit 1) is not null as pending
    from (select) one left join batch on true
    order by transaction_id, global_position`;
}

const texts = new Map<string, string>();
const ids = new WeakMap<CompiledLookups, number>();
let nextId = 0;

/**
 * batchText, rendered once per form, limit and lookups (the runner's batch sizes are a few doublings, and
 * a process groups the same few projections).
 */
export function batchStatement(target: 'live' | 'shadow', limit: number, lookups: readonly (CompiledLookups | undefined)[] = []): string {
  const id = (l: CompiledLookups | undefined) => {
    if (!l) return '-';
    if (!ids.has(l)) ids.set(l, nextId++);
    return String(ids.get(l));
  };
  const key = `${target} ${limit} ${lookups.map(id).join(',')}`;
  let text = texts.get(key);
  if (text === undefined) texts.set(key, (text = batchText(target, limit, lookups)));
  return text;
}

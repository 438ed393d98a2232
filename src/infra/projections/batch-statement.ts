// The statement that reads a projection step's batch, in one round trip: up to `limit` visible events
// after the checkpoint ($2, $3) in global order, and whether more lie beyond them (held back by an open
// older transaction, or past the limit). One row per event, or one row of nulls when there is none.
import type { CompiledLookups } from './lookups.ts';
import { EVENT_COLUMNS_TEXT, VISIBLE_TEXT } from '../event-store/event-rows.ts';

/**
 * `live`: the statement also says whether the checkpoint is still where the step read from and the
 * projection may run (`moved`; the move itself comes with the writes), and with `lookups` it carries the
 * projection's lookups over the batch (`found`, on the first row: docs/decisions/lookups-with-the-batch.md).
 * `shadow`: it moves a rebuild's shadow checkpoint by compare-and-set, inside the rebuild step's
 * transaction, whose commit it makes asynchronous and whose statements it plans per call
 * (docs/decisions/async-commit.md, docs/decisions/lookup-plans.md).
 * Parameters: $1 projection, $2/$3 the checkpoint. The limit is part of the text, so that a kept plan
 * knows it as a custom one would (docs/decisions/batch-read-plans.md).
 */
function batchText(target: 'live' | 'shadow', limit: number, lookups?: CompiledLookups): string {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new Error(`a batch limit must be a positive integer, got ${limit}`);
  const moved =
    target === 'live'
      ? `(select count(*) from projections where name = $1 and position_tx = $2::xid8 and position = $3::bigint
          and state in ('RUNNING', 'REBUILDING'))::int`
      : `(select count(*) from moved)::int`;
  const shadowMove =
    target === 'live'
      ? ''
      : `, moved as (
      update projections set rebuild_position_tx = last.transaction_id, rebuild_position = last.global_position
      from last where name = $1 and rebuild_position_tx = $2::xid8 and rebuild_position = $3::bigint and state = 'REBUILDING'
      returning set_config('synchronous_commit', 'off', true) as commit_mode,
        set_config('plan_cache_mode', 'force_custom_plan', true) as plan_mode)`;
  const found = lookups?.overBatch();
  return `with batch as (
      select * from events
      where (transaction_id, global_position) > ($2::xid8, $3::bigint) and ${VISIBLE_TEXT}
      order by transaction_id, global_position limit ${limit}
    ), last as (
      select transaction_id, global_position from batch order by transaction_id desc, global_position desc limit 1
    )${shadowMove}${found ? `,\n${found.ctes}` : ''}
    select ${EVENT_COLUMNS_TEXT}, ${moved} as moved,${
      found
        ? ` case when batch.global_position is not null and row_number() over (order by batch.transaction_id, batch.global_position) = 1
          then ${found.result} end as found,`
        : ''
    }
      (select global_position from events where (transaction_id, global_position) > (
          coalesce((select transaction_id from last), $2::xid8), coalesce((select global_position from last), $3::bigint))
        order by transaction_id, global_position limit 1) is not null as pending
    from (select) one left join batch on true
    order by transaction_id, global_position`;
}

const plain = new Map<string, string>();
const withLookups = new WeakMap<CompiledLookups, Map<string, string>>();

/** batchText, rendered once per form, limit and lookups (the runner's batch sizes are a few doublings). */
export function batchStatement(target: 'live' | 'shadow', limit: number, lookups?: CompiledLookups): string {
  let texts = plain;
  if (lookups) {
    texts = withLookups.get(lookups) ?? new Map();
    withLookups.set(lookups, texts);
  }
  const key = `${target} ${limit}`;
  let text = texts.get(key);
  if (text === undefined) texts.set(key, (text = batchText(target, limit, lookups)));
  return text;
}

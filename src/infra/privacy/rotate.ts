// Master key rotation: every data key wrapped by another master key is unwrapped and wrapped again by the
// current one, a batch per statement, while servers serve (they hold both secrets meanwhile: see
// docs/decisions/privacy.md). A row changed or deleted since it was read (a forget) is left as it is.
import type { Executor } from '../../core/sql.ts';
import { type MasterKeys, unwrapKey, wrapKey } from './master-key.ts';

const BATCH = 500;

type Row = { key_id: string; tenant_id: string; master_id: string; wrapped_key: string };

/** Re-wraps every data key under `masters.current`; how many it re-wrapped. */
export async function rewrapDataKeys(db: Executor, masters: MasterKeys): Promise<number> {
  let rewrapped = 0;
  for (let after = ''; ; ) {
    const rows = await db.query<Row>(
      `select key_id, tenant_id, master_id, wrapped_key from data_keys where master_id <> $1 and key_id > $2 order by key_id limit ${BATCH}`,
      [masters.current.id, after],
    );
    if (rows.length === 0) return rewrapped;
    after = rows.at(-1)!.key_id;
    const changed = rows.map((row) => ({
      k: row.key_id,
      t: row.tenant_id,
      m: row.master_id,
      w: wrapKey(masters.current, unwrapKey(masters, row.master_id, row.wrapped_key)),
    }));
    const updated = await db.query<{ key_id: string }>(
      `update data_keys d set wrapped_key = v.w, master_id = $2
        from jsonb_to_recordset($1::jsonb) as v(k text, t text, m text, w text)
        where d.key_id = v.k and d.tenant_id = v.t and d.master_id = v.m
        returning d.key_id`,
      [JSON.stringify(changed), masters.current.id],
    );
    rewrapped += updated.length;
  }
}

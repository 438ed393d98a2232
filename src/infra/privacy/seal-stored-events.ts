// The one rewrite of stored events this project allows (docs/decisions/privacy.md): personal fields that
// were stored in clear before they were marked are sealed in place, once, recorded in data_migrations.
// The read models built from them are rebuilt, so that their clear copies go too.
import { sql } from 'drizzle-orm';
import type { EventSchemas } from '../../core/event-store.ts';
import { mapPersonal, sealValue, subjectOf } from '../../core/personal-data.ts';
import type { Executor } from '../../core/sql.ts';
import { inTenant } from '../../core/tenancy.ts';
import type { Database } from '../db/database.ts';
import { createDataKeyStore } from './data-keys.ts';
import type { MasterKeys } from './master-key.ts';

export const SEAL_MIGRATION = 'seal-personal-fields';

/** Events sealed per statement. */
const BATCH = 500;

/**
 * Seals what is still clear (once; every later start finds the record) and asks for a rebuild of
 * `projections` (those that handle a type with personal fields). Returns how many events it sealed.
 */
export async function sealStoredEvents(
  database: Database,
  schemas: EventSchemas,
  masters: MasterKeys,
  projections: readonly string[],
): Promise<number> {
  const [done] = await database.rows(sql`select 1 from data_migrations where name = ${SEAL_MIGRATION}`);
  if (done) return 0;
  const types = Object.entries(schemas).filter(([, schema]) => schema.personal);
  return database.transaction(async (tx) => {
    // Two processes starting together: the second waits here, then finds the record.
    await tx.query(`select pg_advisory_xact_lock(hashtext('converge:${SEAL_MIGRATION}'))`, []);
    const [again] = await tx.rows(sql`select 1 from data_migrations where name = ${SEAL_MIGRATION}`);
    if (again) return 0;
    const keys = createDataKeyStore(tx, masters);
    let sealed = 0;
    for (const [type, schema] of types) sealed += await sealType(tx, keys, type, schema.personal!);
    if (sealed > 0 && projections.length > 0) {
      await tx.rows(sql`update projections set state = 'REBUILDING', rebuild_requested = true, rebuild_position_tx = null,
        rebuild_position = null where name in ${sql.raw(`(${projections.map((p) => `'${p.replace(/'/g, "''")}'`).join(', ')})`)}`);
    }
    await tx.rows(sql`insert into data_migrations (name) values (${SEAL_MIGRATION})`);
    return sealed;
  });
}

async function sealType(
  tx: Executor,
  keys: ReturnType<typeof createDataKeyStore>,
  type: string,
  fields: NonNullable<EventSchemas[string]['personal']>,
): Promise<number> {
  let sealed = 0;
  for (let after = '0'; ; ) {
    const rows = await tx.query<{ pos: string; tenant_id: string; data: unknown }>(
      `select global_position::text as pos, tenant_id, data from events where type = $1 and global_position > $2::bigint
        order by global_position limit ${BATCH}`,
      [type, after],
    );
    if (rows.length === 0) return sealed;
    after = rows.at(-1)!.pos;
    const changed: { pos: string; data: unknown }[] = [];
    for (const row of rows) {
      const subject = subjectOf(fields, row.data);
      if (subject === undefined) continue;
      const key = await inTenant(row.tenant_id, () => keys.keyFor(subject));
      const data = mapPersonal(row.data, fields, (value) => sealValue(key, value));
      if (data !== row.data) changed.push({ pos: row.pos, data });
    }
    if (changed.length === 0) continue;
    await tx.query(
      `update events e set data = v.data from jsonb_to_recordset($1::jsonb) as v(pos bigint, data jsonb) where e.global_position = v.pos`,
      [JSON.stringify(changed)],
    );
    sealed += changed.length;
  }
}

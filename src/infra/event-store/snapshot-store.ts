// Snapshots beside the events (the `snapshots` table): the newest per stream of the tenant the work acts
// for, kept unless a newer one of the same decider version is there already.
import { sql } from 'drizzle-orm';
import type { Snapshot, SnapshotStore } from '../../core/snapshots.ts';
import type { Executor } from '../../core/sql.ts';
import { tenantOrDefault } from '../../core/tenancy.ts';

export function createSnapshotStore(db: Executor): SnapshotStore {
  return {
    async load(streamId, deciderVersion) {
      const [row] = await db.rows<{ version: number; state: unknown }>(
        sql`select version, state from snapshots
          where stream_id = ${streamId} and tenant_id = ${tenantOrDefault()} and decider_version = ${deciderVersion}`,
      );
      return row ? ({ version: row.version, state: row.state } satisfies Snapshot) : null;
    },
    async save(streamId, streamType, deciderVersion, { version, state }) {
      await db.rows(sql`insert into snapshots (tenant_id, stream_id, stream_type, version, decider_version, state)
        values (${tenantOrDefault()}, ${streamId}, ${streamType}, ${version}, ${deciderVersion}, ${JSON.stringify(state)}::jsonb)
        on conflict (stream_id, tenant_id) do update set version = excluded.version, decider_version = excluded.decider_version,
          state = excluded.state, created_at = now()
        where snapshots.decider_version <> excluded.decider_version or snapshots.version < excluded.version`);
    },
  };
}

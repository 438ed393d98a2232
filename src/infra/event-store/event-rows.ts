// Events as rows: the columns every read selects, the visibility rule, and the row as a StoredEvent
// (upcast to its type's current schema version).
import { upcast, currentSchemaVersion, type EventSchemas } from '../../core/event-store.ts';
import type { Metadata, StoredEvent } from '../../core/messages.ts';
import { positionFromDb } from '../../core/position.ts';
import { isoTime } from '../../core/sql.ts';

export type EventRow = {
  tenant_id: string;
  stream_id: string;
  stream_type: string;
  version: number;
  type: string;
  schema_version: number;
  data: unknown;
  metadata: Metadata;
  tx: string;
  pos: string;
  created_at: string;
};

export const EVENT_COLUMNS_TEXT = `tenant_id, stream_id, stream_type, version, type, schema_version, data, metadata,
  transaction_id::text as tx, global_position::text as pos, ${isoTime('created_at')} as created_at`;

/**
 * Only events below the horizon of Converge's own appends in flight, which nothing can still commit
 * below (docs/decisions/event-horizon.md). A scalar subquery, so that it is computed once per statement.
 */
export const VISIBLE_TEXT = 'transaction_id < (select converge_event_horizon(pg_current_snapshot()))';

export const eventReader =
  (schemas: EventSchemas) =>
  (row: EventRow): StoredEvent => ({
    type: row.type,
    data: upcast(schemas, row.type, row.schema_version, row.data),
    tenant: row.tenant_id,
    streamId: row.stream_id,
    streamType: row.stream_type,
    version: row.version,
    schemaVersion: currentSchemaVersion(schemas, row.type),
    metadata: row.metadata,
    position: positionFromDb(row.tx, row.pos),
    createdAt: row.created_at,
  });

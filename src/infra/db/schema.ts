// Tables of the generic core: the event log, recorded commands, projection checkpoints.
// drizzle-kit generates the migrations in drizzle/ from this file and the domain's read models.
import { sql } from 'drizzle-orm';
import { bigint, boolean, customType, index, integer, jsonb, pgTable, text, timestamp, unique } from 'drizzle-orm/pg-core';

/** PostgreSQL's 64-bit transaction id; always carried as text and parsed to bigint. */
export const xid8 = customType<{ data: string; driverData: string }>({ dataType: () => 'xid8' });

export const events = pgTable(
  'events',
  {
    globalPosition: bigint('global_position', { mode: 'bigint' }).primaryKey().generatedAlwaysAsIdentity(),
    transactionId: xid8('transaction_id').notNull().default(sql`pg_current_xact_id()`),
    streamId: text('stream_id').notNull(),
    streamType: text('stream_type').notNull(),
    version: integer('version').notNull(),
    type: text('type').notNull(),
    schemaVersion: integer('schema_version').notNull().default(1),
    data: jsonb('data').notNull(),
    metadata: jsonb('metadata').notNull().default({}),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    unique('events_stream_version_key').on(t.streamId, t.version),
    index('events_global_order_idx').on(t.transactionId, t.globalPosition),
  ],
);

export const commands = pgTable('commands', {
  commandId: text('command_id').primaryKey(),
  inputHash: text('input_hash').notNull(),
  streamId: text('stream_id').notNull(),
  version: integer('version').notNull(),
  transactionId: xid8('transaction_id').notNull(),
  globalPosition: bigint('global_position', { mode: 'bigint' }).notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/** The newest snapshot of a stream's state, for aggregates that opt in (see core/snapshots.ts). */
export const snapshots = pgTable('snapshots', {
  streamId: text('stream_id').primaryKey(),
  streamType: text('stream_type').notNull(),
  /** The stream version the state is folded up to. */
  version: integer('version').notNull(),
  deciderVersion: integer('decider_version').notNull(),
  state: jsonb('state').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/**
 * One row per projection: where it is, what state it is in, and the shadow copy's position while a
 * blue/green rebuild runs. Updated in the same transaction as the projection's read model.
 */
export const projections = pgTable('projections', {
  name: text('name').primaryKey(),
  state: text('state').notNull().default('RUNNING'),
  positionTx: xid8('position_tx').notNull().default(sql`'0'::xid8`),
  position: bigint('position', { mode: 'bigint' }).notNull().default(sql`0`),
  lastError: text('last_error'),
  errorPositionTx: xid8('error_position_tx'),
  errorPosition: bigint('error_position', { mode: 'bigint' }),
  rebuildPositionTx: xid8('rebuild_position_tx'),
  rebuildPosition: bigint('rebuild_position', { mode: 'bigint' }),
  /** A rebuild was asked for and has not swapped in yet (a pause in between keeps it). */
  rebuildRequested: boolean('rebuild_requested').notNull().default(false),
  /** A process manager's: the furthest event its commands appended, up to its checkpoint. */
  effectsTx: xid8('effects_tx'),
  effects: bigint('effects', { mode: 'bigint' }),
  updatedAt: timestamp('updated_at', { withTimezone: true }),
});

/**
 * Each subject's data key (docs/decisions/privacy.md), wrapped by the master key `master_id` names. One
 * live key per tenant and subject (the unique index is in the migration, over tenant_id); a forget deletes it.
 */
export const dataKeys = pgTable('data_keys', {
  keyId: text('key_id').primaryKey(),
  subject: text('subject').notNull(),
  masterId: text('master_id').notNull(),
  wrappedKey: text('wrapped_key').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/** Data migrations done once, in code (the sealing of personal fields already stored). Not a tenant's data. */
export const dataMigrations = pgTable('data_migrations', {
  name: text('name').primaryKey(),
  appliedAt: timestamp('applied_at', { withTimezone: true }).notNull().defaultNow(),
});

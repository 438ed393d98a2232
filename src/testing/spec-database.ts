// The database behind projection and process-manager specs: an embedded PGlite in memory with the
// project's migrations, so that the SQL a projection's lookups and writes become is real and no server
// or container is needed. Each case starts from empty tables; events go into the real event store and
// are projected as the runner would, batch by batch after the checkpoint.
import { sql } from 'drizzle-orm';
import type { EventSchemas } from '../core/event-store.ts';
import type { Event, Metadata, StoredEvent } from '../core/messages.ts';
import type { SqlProjection } from '../core/sql-projection.ts';
import { type NewRowOf, type ReadModelTable, type RowOf, primaryKeyOf, selectList, tableName } from '../core/tables.ts';
import type { Database } from '../infra/db/database.ts';
import { migrate } from '../infra/db/migrate.ts';
import { openDatabase } from '../infra/db/open-database.ts';
import { createPostgresEventStore, type PostgresEventStore } from '../infra/event-store/postgres-event-store.ts';
import { createDataKeyStore } from '../infra/privacy/data-keys.ts';
import { masterKeys, TEST_DATA_KEY_SECRET } from '../infra/privacy/master-key.ts';
import { createProjectionStorage } from '../infra/projections/projection-storage.ts';

/** An event for a spec: its stream, and its type and data (the stream type is `Spec` unless given). */
export type SpecEvent<E extends Event = Event> = E & { streamId: string; streamType?: string; metadata?: Metadata };

/** Rows of one table, for `given` and `then`. */
export type TableRows<T extends ReadModelTable = ReadModelTable> = { table: T; rows: readonly NewRowOf<T>[] };

/** `rowsOf(orders, [...])`: rows of a table, typed by it. */
export const rowsOf = <T extends ReadModelTable>(table: T, rows: readonly NewRowOf<T>[]): TableRows<T> => ({ table, rows });

export type SpecDatabaseOptions = {
  /** Event schemas, for events stored at older versions (upcast on read). */
  events?: EventSchemas;
  /** The migrations that create the tables (the project's drizzle/ folder by default). */
  migrationsFolder?: string;
};

export type SpecDatabase = {
  database: Database;
  store: PostgresEventStore;
  /** Empties every table. */
  reset(): Promise<void>;
  insert(rows: TableRows): Promise<void>;
  /** Appends each event on its own (one transaction each, in order); returns them as stored. */
  append(events: readonly SpecEvent[]): Promise<StoredEvent[]>;
  /** Runs `projection` over every event after its checkpoint, batch by batch, as the runner does. */
  project(projection: SqlProjection): Promise<void>;
  /** Every row of `table`, as a projection's lookups read them, ordered by primary key. */
  rows<T extends ReadModelTable>(table: T): Promise<RowOf<T>[]>;
  close(): Promise<void>;
};

export async function openSpecDatabase(options: SpecDatabaseOptions = {}): Promise<SpecDatabase> {
  const database = await openDatabase({ pgliteDir: 'memory://' });
  await migrate(database, options.migrationsFolder);
  // Personal fields are sealed as the service seals them, with a key under the test master key.
  const personal = createDataKeyStore(database, masterKeys(TEST_DATA_KEY_SECRET));
  const store = createPostgresEventStore({ db: database, schemas: options.events, personal });
  return {
    database,
    store,
    async reset() {
      const tables = await database.rows<{ name: string }>(
        sql`select quote_ident(tablename) as name from pg_tables where schemaname = 'public'`,
      );
      await database.rows(sql.raw(`truncate ${tables.map((t) => t.name).join(', ')} restart identity`));
    },
    async insert({ table, rows }) {
      if (rows.length > 0) await database.db.insert(table).values(rows as NewRowOf<typeof table>[]);
    },
    async append(events) {
      const stored: StoredEvent[] = [];
      for (const { streamId, streamType = 'Spec', metadata, ...event } of events) {
        const appended = await store.append(streamId, [{ type: event.type, data: event.data, metadata }], {
          streamType,
          expectedVersion: 'any',
        });
        const { events: read } = await store.readStream(streamId);
        stored.push(read.find((e) => e.version === appended.version)!);
      }
      return stored;
    },
    async project(projection) {
      const storage = createProjectionStorage(database, store, [projection]);
      let from = (await storage.load(projection.name)).position;
      for (;;) {
        const result = await storage.step(projection.name, 'live', from, 500, async (events, step) => {
          const handled = events.filter((event) => projection.handles.has(event.type));
          if (handled.length > 0) await projection.apply(handled, step);
        });
        if (result.kind === 'stale') throw new Error(`the checkpoint of ${projection.name} moved under the spec`);
        if (result.to === null) return;
        from = result.to;
      }
    },
    async rows(table) {
      const key = primaryKeyOf(table)
        .map((column) => `"${column}"`)
        .join(', ');
      return database.rows(sql.raw(`select ${selectList(table)} from "${tableName(table)}" order by ${key}`));
    },
    close: () => database.close(),
  };
}

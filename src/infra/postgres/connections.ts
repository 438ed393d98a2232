// postgres.js clients for the roles beside the main pool: a connection of its own that is never
// recycled (a lock session, the listener), and small pools whose sessions are set up for one job.
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import type { Run } from '../db/executor.ts';

/** postgres.js options with no custom types. */
type Options = postgres.Options<Record<string, postgres.PostgresType>>;

export type ConnectionSettings = Record<string, string | boolean>;

/** Runs statements on a pool, transaction or connection, each prepared once per connection. */
export const runOn =
  (sql: Pick<postgres.Sql, 'unsafe'>): Run =>
  async <T>(text: string, params: readonly unknown[]) =>
    (await sql.unsafe(text, params as never[], { prepare: true })) as unknown as T[];

const named = (connection: ConnectionSettings, role: string) => ({
  ...connection,
  application_name: `${connection.application_name}:${role}`,
});

/**
 * One connection of its own, never closed for idleness or age: a lock session or a listener, whose loss
 * must be seen (a pool would hide it behind a new connection).
 */
export function dedicatedConnection(url: string, connection: ConnectionSettings, role: string, extra: Partial<Options>) {
  return postgres(url, {
    max: 1,
    onnotice: () => {},
    connection: named(connection, role),
    connect_timeout: 5,
    idle_timeout: 0,
    max_lifetime: null,
    ...extra,
  } as Options);
}

/**
 * Two connections (unless `extra` says otherwise) beside the main pool for one role, their sessions set
 * up by `settings`. Values are read and written as on the main pool: drizzle sets the client's parsers
 * (JSON and times pass as text).
 */
export function sidePool(
  url: string,
  connection: ConnectionSettings,
  role: string,
  settings: ConnectionSettings,
  extra: Partial<Options> = {},
) {
  const client = postgres(url, {
    max: 2,
    onnotice: () => {},
    connection: { ...named(connection, role), ...settings },
    connect_timeout: 5,
    ...extra,
  } as Options);
  drizzle({ client });
  return client;
}

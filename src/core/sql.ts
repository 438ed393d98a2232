// The SQL port: how domain code reads its tables, whatever the driver underneath (docs/architecture.md,
// Layers). Queries are drizzle `sql` templates or, on hot paths, text rendered once with $n parameters.
import { sql, type SQL } from 'drizzle-orm';

export type Executor = {
  rows<T = Record<string, unknown>>(query: SQL): Promise<T[]>;
  query<T = Record<string, unknown>>(text: string, params: readonly unknown[]): Promise<T[]>;
};

/**
 * A text[] parameter that both drivers pass the same way (drizzle would expand a JS array into a list,
 * and the drivers serialise arrays differently): one JSON parameter unpacked in SQL.
 */
export const textArray = (values: readonly string[]): SQL => sql`array(select jsonb_array_elements_text(${JSON.stringify(values)}::jsonb))`;

/** A timestamptz column as ISO-8601 UTC text, the same on both drivers. */
export const isoTime = (column: string) => `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

// Read-model tables as drizzle defines them, turned into the SQL the core hands to infra: a table's
// name, its rows with column names instead of property names, and select lists whose rows come back
// with the property names and the same value shapes on both drivers (exact text for numbers, ISO-8601
// UTC for times), so that a row read equals the row written.
import { type Column, getTableColumns, getTableName, type InferInsertModel, type InferSelectModel } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import { isoTime } from './sql.ts';

export type ReadModelTable = PgTable;

/** A row as read back: property names, values as written. */
export type RowOf<T extends ReadModelTable> = InferSelectModel<T>;
/** A row to write: property names; nullable and defaulted columns may be left out. */
export type NewRowOf<T extends ReadModelTable> = InferInsertModel<T>;

type TableInfo = {
  name: string;
  /** Property name → column name. */
  columnOf: ReadonlyMap<string, string>;
  columns: readonly Column[];
  primaryKey: readonly string[];
};

const infos = new WeakMap<ReadModelTable, TableInfo>();

function infoOf(table: ReadModelTable): TableInfo {
  let info = infos.get(table);
  if (!info) {
    const columns = Object.entries(getTableColumns(table));
    info = {
      name: getTableName(table),
      columnOf: new Map(columns.map(([property, column]) => [property, column.name])),
      columns: columns.map(([, column]) => column),
      primaryKey: columns.filter(([, column]) => column.primary).map(([, column]) => column.name),
    };
    infos.set(table, info);
  }
  return info;
}

export const tableName = (table: ReadModelTable): string => infoOf(table).name;

/** The primary key's column names (a composite key is declared with the table's primaryKey()). */
export function primaryKeyOf(table: ReadModelTable): readonly string[] {
  const key = infoOf(table).primaryKey;
  if (key.length === 0) throw new Error(`table ${tableName(table)} has no single-column primary key: name the key columns`);
  return key;
}

/** The row with column names; a property the table does not have is an error, not a silent drop. */
export function toColumns(table: ReadModelTable, row: object): Record<string, unknown> {
  const { columnOf, name } = infoOf(table);
  const out: Record<string, unknown> = {};
  for (const [property, value] of Object.entries(row)) {
    const column = columnOf.get(property);
    if (column === undefined) throw new Error(`table ${name} has no column for property ${property}`);
    if (value !== undefined) out[column] = value;
  }
  return out;
}

/** How a column reads back as it was written: numeric as exact text, times as ISO-8601 UTC text. */
function selectExpression(column: Column, qualifier?: string): string {
  const ref = qualifier ? `${qualifier}."${column.name}"` : `"${column.name}"`;
  switch (column.columnType) {
    case 'PgNumeric':
    case 'PgBigInt64':
      return `${ref}::text`;
    case 'PgTimestampString':
    case 'PgTimestamp':
      return isoTime(ref);
    default:
      return ref;
  }
}

/**
 * `<expression> as "<property>"` for every column of the table (but `except`), so that the rows come back
 * as RowOf<T>. `qualifier` prefixes each column (a table alias).
 */
export function selectList(table: ReadModelTable, options: { except?: readonly Column[]; qualifier?: string } = {}): string {
  const except = new Set(options.except?.map((column) => column.name));
  const properties = new Map([...infoOf(table).columnOf].map(([property, column]) => [column, property]));
  return infoOf(table)
    .columns.filter((column) => !except.has(column.name))
    .map((column) => `${selectExpression(column, options.qualifier)} as "${properties.get(column.name)}"`)
    .join(', ');
}

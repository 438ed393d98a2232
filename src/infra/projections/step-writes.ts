// What a projection's apply writes, collected per table and sent as one statement per table: a step's
// statements run together as WITH queries of one statement (one snapshot), where two writes to the same
// rows would collide, so several upserts of one table are merged first (the last row of a key wins). Only
// the tables the projection declares may be written: a rebuild copies those alone, so a write to another
// would land in the live table while the shadow copies fill.
import { sql, type SQL } from 'drizzle-orm';
import type { Row, StepContext } from '../../core/sql-projection.ts';
import { ident } from './sql-text.ts';

type TableWrite =
  | { kind: 'insert'; columns: string[]; rows: Row[] }
  | { kind: 'upsert'; key: readonly string[]; columns: string[]; rows: Map<string, Row> };

export type WriteCollector = {
  insert: StepContext['insert'];
  upsert: StepContext['upsert'];
  /** Ends the collection (a write after this is an error) and returns the statements. */
  close(): SQL[];
};

function columnsOf(table: string, rows: readonly Row[]): string[] {
  const columns = Object.keys(rows[0]!).sort();
  for (const column of columns) ident(column);
  const shape = columns.join(',');
  for (const row of rows) {
    if (Object.keys(row).sort().join(',') !== shape) throw new Error(`rows written to ${table} in one step must all have the same columns`);
  }
  return columns;
}

export function createWriteCollector(projection: string, declared: readonly string[]): WriteCollector {
  const tables = new Map<string, TableWrite>();
  let open = true;

  const entry = (table: string, kind: TableWrite['kind'], rows: readonly Row[], key: readonly string[] = []) => {
    if (!open) throw new Error(`a write to ${table} after apply returned: await everything apply starts`);
    if (!declared.includes(table)) throw new Error(`projection ${projection} wrote to table ${table}, which its tables do not list`);
    ident(table);
    const columns = columnsOf(table, rows);
    for (const k of key) if (!columns.includes(k)) throw new Error(`rows upserted into ${table} lack their key column ${k}`);
    let write = tables.get(table);
    if (!write) {
      write = kind === 'insert' ? { kind, columns, rows: [] } : { kind, key, columns, rows: new Map() };
      tables.set(table, write);
    }
    if (
      write.kind !== kind ||
      write.columns.join(',') !== columns.join(',') ||
      (write.kind === 'upsert' && write.key.join(',') !== key.join(','))
    ) {
      throw new Error(`every write to ${table} in one step must be of one kind, with the same columns and key`);
    }
    return write;
  };

  return {
    insert(table, rows) {
      if (rows.length === 0) return;
      const write = entry(table, 'insert', rows) as Extract<TableWrite, { kind: 'insert' }>;
      write.rows.push(...rows.map((row) => ({ ...row })));
    },
    upsert(table, key, rows) {
      if (rows.length === 0) return;
      const write = entry(table, 'upsert', rows, key) as Extract<TableWrite, { kind: 'upsert' }>;
      // Keyed as the database compares them, so that 1 and "1" are one row.
      for (const row of rows) write.rows.set(key.map((k) => String(row[k])).join('\u0000'), { ...row });
    },
    close() {
      open = false;
      return [...tables].map(([table, write]) => {
        const columns = write.columns.map(ident).join(', ');
        const rows = write.kind === 'insert' ? write.rows : [...write.rows.values()];
        const insert = sql`insert into ${sql.raw(ident(table))} (${sql.raw(columns)})
          select ${sql.raw(columns)} from jsonb_populate_recordset(null::${sql.raw(ident(table))}, ${JSON.stringify(rows)}::jsonb)`;
        if (write.kind === 'insert') return insert;
        const updated = write.columns.filter((c) => !write.key.includes(c));
        const action =
          updated.length === 0 ? 'nothing' : `update set ${updated.map((c) => `${ident(c)} = excluded.${ident(c)}`).join(', ')}`;
        return sql`${insert} on conflict (${sql.raw(write.key.map(ident).join(', '))}) do ${sql.raw(action)}`;
      });
    },
  };
}

// A page of a read model and its total, read in one statement: one snapshot, so that a page never
// disagrees with its total while rows are being written (two statements on two connections did).
import { sql, type SQL } from 'drizzle-orm';
import { type Page, toPage } from './input-fields.ts';
import type { Executor } from './sql.ts';

export type PageRead = {
  /** The select list (see tables.ts `selectList`). */
  columns: string;
  /** `from <table> [where …]`: the rows counted, and paged. */
  from: SQL;
  orderBy: SQL;
  page: number;
  pageSize: number;
};

type PageRow = { __total: number; __row: boolean | null };

export async function readPage<T>(db: Executor, { columns, from, orderBy, page, pageSize }: PageRead): Promise<Page<T>> {
  // The total's one row, joined to the page's rows: an empty page (past the last) still tells the total.
  const rows = await db.rows<T & PageRow>(sql`select n.total as "__total", p.*
    from (select count(*)::int as total ${from}) n
    left join lateral (select true as "__row", ${sql.raw(columns)} ${from}
      order by ${orderBy} limit ${pageSize} offset ${(page - 1) * pageSize}) p on true`);
  const items = rows.filter((row) => row.__row).map(({ __total, __row, ...item }) => item as T);
  return toPage(items, rows[0]?.__total ?? 0, page, pageSize);
}

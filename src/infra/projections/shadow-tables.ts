// Blue/green copies of a projection's tables: created empty in a schema of their own (found through
// search_path, so projections never know which copy they fill), given their read indexes once caught up,
// and swapped in for the live tables.
import { sql } from 'drizzle-orm';
import type { Executor } from '../../core/sql.ts';
import { quoteIdent } from './sql-text.ts';

export const shadowSchema = (projection: string) => `converge_shadow_${projection}`;
const retiredSchema = (projection: string) => `converge_retired_${projection}`;

/** Statements from here on (in the transaction `tx`) read and write the shadow copies. */
export const useShadow = (tx: Executor, name: string) =>
  tx.rows(sql.raw(`set local search_path = ${quoteIdent(shadowSchema(name))}, public`));

const exec = (db: Executor, text: string) => db.rows(sql.raw(text));

/**
 * (Re)creates the empty copies. Indexes that only serve reads are left out, to be built once the copy
 * has caught up (docs/decisions/deferred-shadow-indexes.md); unique and exclusion indexes stay (they back
 * constraints, and upserts need them), under the names of the live indexes they copy.
 */
export async function createShadowTables(tx: Executor, name: string, tables: readonly string[]): Promise<void> {
  const schema = quoteIdent(shadowSchema(name));
  await exec(tx, `drop schema if exists ${schema} cascade`);
  await exec(tx, `create schema ${schema}`);
  for (const table of tables)
    await exec(tx, `create table ${schema}.${quoteIdent(table)} (like public.${quoteIdent(table)} including all)`);
  for (const table of tables) {
    const live = await indexesOf(tx, 'public', table);
    const copies = await indexesOf(tx, shadowSchema(name), table);
    const kept = copies.filter((index) => index.unique || index.exclusion);
    for (const index of copies) if (!kept.includes(index)) await exec(tx, `drop index ${schema}.${quoteIdent(index.name)}`);
    // In two passes, so that no rename takes a name that another copy still has.
    const temporary = (i: number) => quoteIdent(`converge_index_${i}`);
    for (const [i, index] of kept.entries()) await exec(tx, `alter index ${schema}.${quoteIdent(index.name)} rename to ${temporary(i)}`);
    for (const [i, index] of kept.entries()) {
      const original = live.find((l) => l.shape === index.shape)?.name ?? index.name;
      await exec(tx, `alter index ${schema}.${temporary(i)} rename to ${quoteIdent(original)}`);
    }
  }
}

/**
 * Gives the caught-up copies the indexes of the live tables they lack, and drops what they must not keep
 * (an invalid index left by a failed build, a second copy, an index the live table no longer has); false
 * when it changed nothing. Built concurrently, one at a time: a plain CREATE INDEX holds a transaction id
 * for the whole build, and readers of the event store see nothing committed after it began.
 */
export async function completeShadowTables(db: Executor, name: string, tables: readonly string[]): Promise<boolean> {
  const schema = shadowSchema(name);
  let changed = false;
  for (const table of tables) {
    const live = await indexesOf(db, 'public', table);
    const wanted = new Set(live.map((index) => index.shape));
    const have = new Set<string>();
    const names = new Set<string>();
    for (const copy of await indexesOf(db, schema, table)) {
      if (copy.valid && wanted.has(copy.shape) && !have.has(copy.shape)) have.add(copy.shape);
      else if (!copy.unique && !copy.exclusion) {
        // If a server session is still building it, the drop waits for that.
        await exec(db, `drop index if exists ${quoteIdent(schema)}.${quoteIdent(copy.name)}`);
        changed = true;
        continue;
      }
      names.add(copy.name);
    }
    for (const index of live) {
      // A name still held by a copy that could not be dropped: the swap will start over.
      if (have.has(index.shape) || names.has(index.name)) continue;
      // Under the live index's name, so that a second build (another call, a takeover) cannot duplicate it.
      await exec(
        db,
        `create ${index.unique ? 'unique ' : ''}index concurrently if not exists ${quoteIdent(index.name)} on ${quoteIdent(schema)}.${quoteIdent(table)} ${index.rest}`,
      );
      changed = true;
      // An embedded database answers without leaving the microtask queue: let the process breathe.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  return changed;
}

/** Whether each copy has exactly the live table's indexes, all valid (else the live tables changed meanwhile). */
export async function shadowMatchesLive(tx: Executor, name: string, tables: readonly string[]): Promise<boolean> {
  const shapes = (indexes: IndexInfo[]) => [...new Set(indexes.map((index) => index.shape))].sort().join('\n');
  for (const table of tables) {
    const copies = await indexesOf(tx, shadowSchema(name), table);
    if (!copies.every((copy) => copy.valid) || shapes(copies) !== shapes(await indexesOf(tx, 'public', table))) return false;
  }
  return true;
}

/** Moves the copies into `public`, with the tenants' row-level security, and drops the tables they replace (inside the swap's transaction). */
export async function swapInShadowTables(tx: Executor, name: string, tables: readonly string[]): Promise<void> {
  const shadow = quoteIdent(shadowSchema(name));
  const retired = quoteIdent(retiredSchema(name));
  await exec(tx, `drop schema if exists ${retired} cascade`);
  await exec(tx, `create schema ${retired}`);
  for (const table of tables) {
    await exec(tx, `alter table public.${quoteIdent(table)} set schema ${retired}`);
    await exec(tx, `alter table ${shadow}.${quoteIdent(table)} set schema public`);
    await renameIndexesLike(tx, table, retiredSchema(name));
    // A copy has no policies nor grants of its own: the tenants' row-level security again (drizzle/0010).
    await tx.rows(sql`select converge_tenant_table(${`public.${quoteIdent(table)}`}::regclass)`);
  }
  await exec(tx, `drop schema ${retired} cascade`);
  await exec(tx, `drop schema ${shadow} cascade`);
}

type IndexInfo = {
  name: string;
  unique: boolean;
  exclusion: boolean;
  /** Built and usable (a concurrent build that failed leaves an invalid index). */
  valid: boolean;
  /** The definition after the table ("USING gin (search_text gin_trgm_ops)"). */
  rest: string;
  /** What makes two indexes the same, whatever their names and tables: `rest`, and whether unique. */
  shape: string;
};

/** The indexes of one table, from the catalog. */
async function indexesOf(db: Executor, schema: string, table: string): Promise<IndexInfo[]> {
  const rows = await db.rows<{ name: string; head: string; def: string; unique: boolean; exclusion: boolean; valid: boolean }>(sql`
    select i.relname as name, pg_get_indexdef(i.oid) as def, x.indisunique as unique, x.indisexclusion as exclusion,
      x.indisvalid as valid,
      format('CREATE %sINDEX %I ON %I.%I ', case when x.indisunique then 'UNIQUE ' else '' end, i.relname, n.nspname, t.relname) as head
    from pg_index x join pg_class i on i.oid = x.indexrelid join pg_class t on t.oid = x.indrelid
      join pg_namespace n on n.oid = t.relnamespace
    where n.nspname = ${schema} and t.relname = ${table}`);
  return rows.map((row) => {
    // pg_get_indexdef quotes and qualifies as format's %I does.
    if (!row.def.startsWith(row.head)) throw new Error(`index ${row.name} of ${schema}.${table} has an unexpected definition: ${row.def}`);
    const rest = row.def.slice(row.head.length);
    return {
      name: row.name,
      unique: row.unique,
      exclusion: row.exclusion,
      valid: row.valid,
      rest,
      shape: `${row.unique ? 'UNIQUE ' : ''}${rest}`,
    };
  });
}

/**
 * A copy made by an earlier version has index names PostgreSQL chose: give them the names of the
 * originals (matched by definition), so that later migrations find them.
 */
async function renameIndexesLike(tx: Executor, table: string, originalSchema: string) {
  const originals = await indexesOf(tx, originalSchema, table);
  for (const index of await indexesOf(tx, 'public', table)) {
    const original = originals.find((o) => o.shape === index.shape);
    if (original && original.name !== index.name)
      await exec(tx, `alter index public.${quoteIdent(index.name)} rename to ${quoteIdent(original.name)}`);
  }
}

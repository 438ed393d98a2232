// A projection step's middle: its `apply` run with the rows its lookups found (those the batch statement
// brought, if they cover the events, or else read on their own), collecting what it writes into
// statements, and the furthest event its commands appended (process managers).
import { sql, type SQL } from 'drizzle-orm';
import { UnavailableError } from '../../core/errors.ts';
import type { StoredEvent } from '../../core/messages.ts';
import { maxPosition, type Position } from '../../core/position.ts';
import { EventsNotApplied } from '../../core/projection.ts';
import type { Executor } from '../../core/sql.ts';
import type { Row, SqlProjection, StepContext } from '../../core/sql-projection.ts';
import { inTenant, splitKey } from '../../core/tenancy.ts';
import { type CompiledLookups, compileLookups, type LookupResult } from './lookups.ts';
import { ident } from './sql-text.ts';
import { createWriteCollector } from './step-writes.ts';

export type Apply = (events: StoredEvent[], step: StepContext) => Promise<void>;

/** A step's writes as one statement: each a WITH query (one snapshot for all), then `main`. */
export function withWrites(writes: readonly SQL[], main: SQL): SQL {
  if (writes.length === 0) return main;
  return sql`with ${sql.join(
    writes.map((write, i) => sql`${sql.raw(`write_${i}`)} as (${write})`),
    sql`, `,
  )} ${main}`;
}

/** Rows of the tenant's in `table` whose `key` column is one of `keys`, by key. */
async function readRows(reads: Executor, tenant: string, table: string, key: string, columns: string, keys: readonly string[]) {
  if (keys.length === 0) return new Map<string, Row>();
  const rows = await reads.query<Row & { $key: string }>(
    `select ${ident(key)}::text as "$key", ${columns} from ${ident(table)}
      where tenant_id = $2 and ${ident(key)} = any(array(select jsonb_array_elements_text($1::jsonb)))`,
    [JSON.stringify(keys), tenant],
  );
  return new Map(rows.map(({ $key, ...row }) => [$key, row as Row]));
}

/**
 * A batch (every tenant's events, in the log's order) as runs of one tenant's events, in that order: a
 * processor that needs the log's order across tenants (the publisher) keeps it.
 */
function tenantRuns(events: readonly StoredEvent[]): [string, StoredEvent[]][] {
  const runs: [string, StoredEvent[]][] = [];
  for (const event of events) {
    const last = runs.at(-1);
    if (last && last[0] === event.tenant) last[1].push(event);
    else runs.push([event.tenant, [event]]);
  }
  return runs;
}

/** The tenant's rows of a lookup's answer, by their own keys. */
function rowsOf(found: ReadonlyMap<string, Row>, tenant: string): Map<string, Row> {
  const mine = new Map<string, Row>();
  for (const [qualified, row] of found) {
    const [owner, key] = splitKey(qualified);
    if (owner === tenant) mine.set(key, row);
  }
  return mine;
}

const withTenant = (rows: readonly Row[], tenant: string) => rows.map((row) => ({ ...row, tenant_id: tenant }));

type Prepared = { projection: SqlProjection; lookups?: CompiledLookups; standalone?: string };

/** The projections a storage runs, their lookups compiled once. */
export class PreparedProjections {
  private readonly prepared: Map<string, Prepared>;

  constructor(projections: readonly SqlProjection[]) {
    this.prepared = new Map(
      projections.map((projection) => {
        const lookups = compileLookups(projection);
        const parts = lookups?.overParams(1);
        const standalone = parts && `with ${parts.ctes} select ${parts.result} as found`;
        return [projection.name, { projection, lookups, standalone }];
      }),
    );
  }

  get(name: string): Prepared {
    const p = this.prepared.get(name);
    if (!p) throw new Error(`projection ${name} is not known to this storage`);
    return p;
  }

  /** The tables of a projection this storage knows (none for one it does not). */
  tablesOf(name: string): readonly string[] {
    return this.prepared.get(name)?.projection.tables ?? [];
  }

  /**
   * Runs `apply` over `events` with what its lookups found (`found`, from the batch statement, or read
   * on `reads`); returns the statements of its writes and the furthest event its commands appended. The
   * events of each tenant go to `apply` apart (each run of one tenant's events, in the log's order), in
   * the tenant's scope (core/tenancy.ts), with that tenant's rows found, and what it writes is that tenant's.
   */
  async apply(name: string, events: StoredEvent[], apply: Apply, reads: Executor, found?: LookupResult | null) {
    const { projection } = this.get(name);
    const rows = await this.lookupRows(
      name,
      events.filter((e) => projection.handles.has(e.type)),
      reads,
      found,
    );
    const writes = createWriteCollector(name, projection.tables);
    let effects: Position | null = null;
    const caused = (position: Position) => {
      effects = effects ? maxPosition(effects, position) : position;
    };
    for (const [tenant, ofTenant] of tenantRuns(events)) {
      const step: StepContext = {
        found: Object.fromEntries(Object.entries(rows).map(([lookup, map]) => [lookup, rowsOf(map, tenant)])),
        insert: (table, list) => writes.insert(table, withTenant(list, tenant)),
        upsert: (table, key, list) => writes.upsert(table, [...key, 'tenant_id'], withTenant(list, tenant)),
        caused,
        read: (table, key, columns, keys) => readRows(reads, tenant, table, key, columns, keys),
      };
      await inTenant(tenant, () => apply(ofTenant, step));
    }
    return { writes: writes.close(), effects: effects as Position | null };
  }

  /** Runs `apply` inside a transaction `tx` (a rebuild's), then its writes (if any) in one statement there. */
  async applyIn(tx: Executor, name: string, events: StoredEvent[], apply: Apply): Promise<void> {
    const { writes } = await this.apply(name, events, apply, tx);
    if (writes.length > 0) await tx.rows(withWrites(writes, sql`select true as written`));
  }

  private async lookupRows(name: string, handled: StoredEvent[], reads: Executor, found?: LookupResult | null) {
    const { lookups, standalone } = this.get(name);
    if (!lookups || handled.length === 0) return {};
    const covered = found ? lookups.found(found, handled) : null;
    if (covered) return covered;
    let answer: { found: LookupResult } | undefined;
    try {
      [answer] = await reads.query<{ found: LookupResult }>(standalone!, lookups.params(handled));
    } catch (error) {
      throw error instanceof UnavailableError ? error : new EventsNotApplied(handled, error);
    }
    const read = lookups.found(answer!.found, handled);
    if (!read) throw new Error(`the lookups of projection ${name} did not cover their own keys`);
    return read;
  }
}

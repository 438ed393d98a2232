// TENANCY=multi: the statements of work acting for a tenant (the API's commands and queries, process
// managers' commands) run as converge_api, a role the tenant tables' row-level security applies to, in a
// transaction that names the tenant. A statement that forgot its tenant filter then still sees only its
// tenant's rows. Work outside any tenant (projections, rebuilds, the operators' reads) runs as the owner,
// which the policies let through. See docs/decisions/tenants.md.
import { sql } from 'drizzle-orm';
import type { Executor } from '../../core/sql.ts';
import { currentTenant } from '../../core/tenancy.ts';
import type { Database } from './database.ts';

export const API_ROLE = 'converge_api';

/** Both settings transaction-local (SET LOCAL, as one statement), so nothing outlives the transaction. */
const ENTER = `select set_config('role', '${API_ROLE}', true), set_config('converge.tenant', $1, true)`;

type Transactional = Executor & { transaction<T>(work: (tx: Executor) => Promise<T>): Promise<T> };

/** `executor` with the statements of work in a tenant scoped to it; others pass through unchanged. */
export function tenantScopedExecutor<D extends Transactional>(executor: D): Pick<D, 'rows' | 'query' | 'transaction'> {
  const within = <T>(tenant: string, work: (tx: Executor) => Promise<T>) =>
    executor.transaction(async (tx) => {
      // Sent together: postgres.js pipelines the two statements of one transaction.
      const [, result] = await Promise.all([tx.query(ENTER, [tenant]), work(tx)]);
      return result;
    });
  return {
    rows<T>(query: Parameters<Executor['rows']>[0]) {
      const tenant = currentTenant();
      return tenant === undefined ? executor.rows<T>(query) : within(tenant, (tx) => tx.rows<T>(query));
    },
    query<T>(text: string, params: readonly unknown[]) {
      const tenant = currentTenant();
      return tenant === undefined ? executor.query<T>(text, params) : within(tenant, (tx) => tx.query<T>(text, params));
    },
    transaction<T>(work: (tx: Executor) => Promise<T>) {
      const tenant = currentTenant();
      return tenant === undefined ? executor.transaction(work) : within(tenant, work);
    },
  } as Pick<D, 'rows' | 'query' | 'transaction'>;
}

/** The database with tenant work scoped (see above); projections' executors and sessions are the owner's. */
export function tenantScoped(database: Database): Database {
  return { ...database, ...tenantScopedExecutor(database) };
}

/**
 * Why TENANCY=multi cannot run on this database, or null when it can: converge_api must exist, be one the
 * policies apply to (no superuser, no BYPASSRLS), and be a role this connection's user may become. Its
 * rights on the tenant tables are granted here (a role made after the migrations ran has none yet).
 */
export async function prepareApiRole(database: Database): Promise<string | null> {
  const [role] = await database.rows<{ superuser: boolean; bypass: boolean; member: boolean; me: string }>(sql`
    select rolsuper as superuser, rolbypassrls as bypass, pg_has_role(current_user, oid, 'MEMBER') as member, current_user as me
    from pg_roles where rolname = ${API_ROLE}`);
  const fix = 'create it as a superuser (CREATE ROLE converge_api NOLOGIN NOSUPERUSER NOBYPASSRLS), grant it to';
  if (!role) return `TENANCY=multi needs the role ${API_ROLE}, which does not exist: ${fix} the service's user, and restart`;
  if (role.superuser || role.bypass)
    return `TENANCY=multi needs ${API_ROLE} to be subject to row-level security, but it is a superuser or has BYPASSRLS: ALTER ROLE ${API_ROLE} NOSUPERUSER NOBYPASSRLS`;
  if (!role.member) return `TENANCY=multi needs ${role.me} to be a member of ${API_ROLE}: GRANT ${API_ROLE} TO ${role.me}`;
  const tables = await database.rows<{ name: string }>(sql`
    select format('%I.%I', schemaname, tablename) as name from pg_policies where policyname = 'converge_tenant'`);
  for (const { name } of tables) await database.query(`grant select, insert, update, delete on ${name} to ${API_ROLE}`, []);
  await database.query(`grant usage on sequence events_global_position_seq to ${API_ROLE}`, []);
  return null;
}

/**
 * The read-model tables that do not carry tenants yet (no tenant_id, or no row-level security): a
 * migration of a new table must call converge_tenant_table on it (converge new domain writes the call).
 */
export async function tablesWithoutTenants(database: Database, tables: readonly string[]): Promise<string[]> {
  if (tables.length === 0) return [];
  const rows = await database.rows<{ name: string }>(sql`
    select t.name from jsonb_array_elements_text(${JSON.stringify(tables)}::jsonb) as t(name)
    where not exists (
      select from pg_class c join pg_attribute a on a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped
      where c.oid = to_regclass(t.name) and c.relrowsecurity)`);
  return rows.map((row) => row.name);
}

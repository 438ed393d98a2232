// A hot-standby replica's pool (postgres.js), for the queries routed there; named host:port/database.
import type { Executor } from '../../core/sql.ts';
import type { ReplicaConnection } from '../replicas/replica-set.ts';
import { executorOf, translated } from '../db/executor.ts';
import { urlLabel } from '../db/where.ts';
import { runOn, sidePool } from './connections.ts';

/** A replica's connection, with transactions (for reads scoped to a tenant: see infra/db/tenant-scope.ts). */
export type OpenedReplica = ReplicaConnection & { transaction<T>(work: (tx: Executor) => Promise<T>): Promise<T> };

export function openReplica(url: string, options: { poolMax?: number; applicationName?: string } = {}): OpenedReplica {
  const name = urlLabel(url);
  const connection = { application_name: options.applicationName ?? 'converge', TimeZone: 'UTC' };
  const client = sidePool(url, connection, 'replica', {}, { max: options.poolMax ?? 10 });
  return {
    name,
    executor: executorOf(runOn(client)),
    transaction: (work) => translated(client.begin((tx) => work(executorOf(runOn(tx)))) as Promise<Awaited<ReturnType<typeof work>>>),
    close: () => client.end({ timeout: 5 }),
  };
}

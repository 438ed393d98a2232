// A hot-standby replica's pool (postgres.js), for the queries routed there; named host:port/database.
import type { ReplicaConnection } from '../replicas/replica-set.ts';
import { executorOf } from '../db/executor.ts';
import { runOn, sidePool } from './connections.ts';

export function openReplica(url: string, options: { poolMax?: number; applicationName?: string } = {}): ReplicaConnection {
  const parsed = new URL(url);
  const name = `${parsed.hostname}:${parsed.port || '5432'}${parsed.pathname === '/' ? '' : parsed.pathname}`;
  const connection = { application_name: options.applicationName ?? 'converge', TimeZone: 'UTC' };
  const client = sidePool(url, connection, 'replica', {}, { max: options.poolMax ?? 10 });
  return { name, executor: executorOf(runOn(client)), close: () => client.end({ timeout: 5 }) };
}

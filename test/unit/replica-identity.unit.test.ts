// Which servers may serve as replicas: a standby of the primary's own cluster (the same system
// identifier, in recovery). One that is not is refused at start, and taken out of rotation when it
// changes later (fake executors; the real clusters are in test/e2e/replicas.e2e.test.ts).
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.ts';
import type { Executor } from '../../src/core/sql.ts';
import { createReplicaSet, ReplicaRefusedError, type ReplicaSet } from '../../src/infra/replicas/replica-set.ts';

const PRIMARY = '7716598713283852428';

/** The primary: its system identifier and a flushed WAL position. */
const primary: Executor = {
  rows: () => Promise.reject(new Error('not used')),
  query: async <T>(text: string) => (text.includes('pg_control_system') ? [{ system: PRIMARY }] : [{ lsn: '0/100' }]) as T[],
};

/** A server answering the replica check with what the test sets. */
function server(name: string, system: string, standby: boolean) {
  const state = { system, standby };
  const executor: Executor = {
    rows: () => Promise.reject(new Error('not used')),
    query: async <T>() => [{ system: state.system, standby: state.standby, replay: '0/100', age_ms: 0 }] as T[],
  };
  return Object.assign(state, { connection: { name, executor, close: async () => {} } });
}

const replicaSet = (...servers: ReturnType<typeof server>[]) =>
  createReplicaSet({ replicas: servers.map((s) => s.connection), primary, maxLagMs: 1000, checkMs: 5, log: silentLogger });

async function untilState(set: ReplicaSet, state: string) {
  for (let i = 0; i < 1000 && set.status()[0]!.state !== state; i++) await new Promise((r) => setTimeout(r, 5));
  return set.status()[0]!;
}

describe('replica identity', () => {
  it('refuses at start a replica URL that reaches another cluster, in one line naming both identifiers', async () => {
    const set = replicaSet(server('db2:5432/app', '7716598713283852999', true));
    const refused = set.start();
    await expect(refused).rejects.toBeInstanceOf(ReplicaRefusedError);
    await expect(refused).rejects.toThrow(
      /^DATABASE_REPLICA_URLS: db2:5432\/app: it is not a replica of DATABASE_URL: its system identifier is 7716598713283852999, the primary's 7716598713283852428$/,
    );
    await set.close();
  });

  it('refuses at start one that is not in recovery (the primary itself, or a promoted copy)', async () => {
    const set = replicaSet(server('db1:5432/app', PRIMARY, false));
    await expect(set.start()).rejects.toThrow(/^DATABASE_REPLICA_URLS: db1:5432\/app: it is not in recovery/);
    await set.close();
  });

  it('takes a replica out of rotation when its URL comes to reach another cluster, and back when it is ours again', async () => {
    const replica = server('db2:5432/app', PRIMARY, true);
    const set = replicaSet(replica);
    await set.start();
    expect(set.status()[0]!.state).toBe('IN_ROTATION');
    replica.system = '7716598713283852999';
    expect(await untilState(set, 'OTHER_CLUSTER')).toMatchObject({ reason: expect.stringMatching(/not a replica of DATABASE_URL/) });
    expect(set.available()).toBe(false);
    replica.system = PRIMARY;
    expect((await untilState(set, 'IN_ROTATION')).state).toBe('IN_ROTATION');
    await set.close();
  });
});

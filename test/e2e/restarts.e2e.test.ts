// Riding through PostgreSQL restarts (issue 33): two server processes on a private cluster, four clients
// each doing createOrder on one and order(id, after:) on the other in a loop, while the cluster restarts
// with -m fast and then -m immediate. No read fails, and no request takes longer than the database's own
// outage (from the stop to the first connection it accepted again) plus a second. Needs real PostgreSQL
// server binaries and root, like the outage test in operations.e2e.test.ts.
import { afterAll, expect, it } from 'vitest';
import { killServer, startPrivateCluster, startServer, type PrivateCluster, type ServerProcess } from '../support/processes.ts';
import { describeIf, needsPrivateCluster } from '../support/skip.ts';

const CREATE = `mutation($input: CreateOrderInput!) { createOrder(input: $input) { orderId consistencyToken } }`;
const READ = `query($id: ID!, $t: ConsistencyToken) { order(id: $id, after: $t) { id } }`;
const input = (customerId: string, commandId?: string) => ({
  input: {
    ...(commandId && { commandId }),
    customerId,
    items: [{ productId: 'p', quantity: 1, unitPrice: '2.50' }],
    shippingAddress: { line1: '1 Main St', city: 'Berlin', postalCode: '10115', country: 'DE' },
  },
});

type Request = {
  kind: 'write' | 'read';
  startedAt: number;
  ms: number;
  ok: boolean;
  stale?: boolean;
  error?: string;
  /** A write sent with a commandId. */
  withId?: boolean;
};

/** Closed-loop clients: createOrder on one server, then order(id, after:) with its token on the other. */
function clients(writeOn: ServerProcess, readOn: ServerProcess, count: number) {
  const requests: Request[] = [];
  let running = true;
  const timed = async (kind: Request['kind'], work: () => Promise<{ data?: any; errors?: any[]; extensions?: any }>, withId?: boolean) => {
    const startedAt = Date.now();
    try {
      const r = await work();
      const ok = !r.errors && r.data !== undefined;
      const error = ok ? undefined : JSON.stringify(r.errors?.[0]?.extensions ?? r);
      requests.push({ kind, startedAt, ms: Date.now() - startedAt, ok, stale: r.extensions?.consistency?.stale === true, error, withId });
      return ok ? r.data : undefined;
    } catch (e) {
      requests.push({ kind, startedAt, ms: Date.now() - startedAt, ok: false, error: String(e), withId });
      return undefined;
    }
  };
  const done = Promise.all(
    Array.from({ length: count }, async (_, c) => {
      // Half the clients send a commandId: their commands are safe to run again through a restart.
      for (let n = 0; running; n++) {
        const commandId = c % 2 === 0 ? `restart-${c}-${n}` : undefined;
        const created = await timed('write', () => writeOn.gql(CREATE, input(`restart-${c}`, commandId)), commandId !== undefined);
        if (!created) continue; // a command that failed in the outage: it says whether it may have been applied
        const { orderId, consistencyToken } = created.createOrder;
        const read = await timed('read', () => readOn.gql(READ, { id: orderId, t: consistencyToken }));
        if (read && read.order?.id !== orderId) requests.push({ kind: 'read', startedAt: Date.now(), ms: 0, ok: false, error: 'no order' });
      }
    }),
  );
  return {
    requests,
    /** Resolves once `n` more reads have answered. */
    async reads(n: number) {
      const target = requests.filter((r) => r.kind === 'read').length + n;
      while (requests.filter((r) => r.kind === 'read').length < target) await new Promise((r) => setTimeout(r, 20));
    },
    async stop() {
      running = false;
      await done;
    },
  };
}

describeIf(needsPrivateCluster('PostgreSQL restarted under load'), 'PostgreSQL restarts under load (a private cluster)', () => {
  let cluster: PrivateCluster | undefined;
  const servers: ServerProcess[] = [];
  afterAll(async () => {
    for (const s of servers) await killServer(s);
    cluster?.destroy();
  });

  it('-m fast, then -m immediate: no read fails, and no request outlasts the outage by more than a second', async () => {
    cluster = await startPrivateCluster();
    const env = { DATABASE_URL: cluster.url, LOG_LEVEL: 'warn' };
    servers.push(await startServer(env), await startServer({ ...env, PROJECTIONS: 'off' }));
    // Reads on the server without projections: its waits hear of progress only through LISTEN.
    const load = clients(servers[0]!, servers[1]!, 4);
    try {
      await load.reads(20);
      const outages: { mode: string; outageMs: number }[] = [];
      for (const mode of ['fast', 'immediate'] as const) {
        const { outageMs } = await cluster.bounce(mode);
        outages.push({ mode, outageMs });
        await load.reads(40); // well after it is back
      }
      await load.stop();

      const reads = load.requests.filter((r) => r.kind === 'read');
      const writes = load.requests.filter((r) => r.kind === 'write');
      const limitMs = Math.max(...outages.map((o) => o.outageMs)) + 1000;
      const worst = (list: Request[]) => Math.max(...list.map((r) => r.ms));
      console.info(
        `restarts.e2e: ${JSON.stringify({
          outages,
          reads: reads.length,
          readsFailed: reads.filter((r) => !r.ok).length,
          readsStale: reads.filter((r) => r.stale).length,
          worstReadMs: worst(reads),
          writes: writes.length,
          writesFailed: writes.filter((r) => !r.ok).length,
          writesWithIdFailed: writes.filter((r) => !r.ok && r.withId).length,
          worstWriteMs: worst(writes),
          limitMs,
        })}`,
      );
      expect(reads.filter((r) => !r.ok)).toEqual([]);
      // A command with a commandId rides through; one without fails only where its commit may have
      // happened, and says so.
      expect(writes.filter((r) => !r.ok && r.withId)).toEqual([]);
      for (const failed of writes.filter((r) => !r.ok)) {
        expect(JSON.parse(failed.error!)).toMatchObject({ code: 'SERVICE_UNAVAILABLE', retryable: true, outcome: 'unknown' });
      }
      expect(reads.filter((r) => r.stale)).toEqual([]);
      expect(load.requests.filter((r) => r.ms > limitMs)).toEqual([]);
    } catch (error) {
      for (const s of servers) console.error(s.logs.slice(-30).join('\n'));
      throw error;
    } finally {
      await load.stop();
    }
  });
});

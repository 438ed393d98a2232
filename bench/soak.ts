// `npm run soak`: Converge in a shared, faulty world, for SOAK_MINUTES (10), loopback only, bounded. Not
// part of CI. A private PostgreSQL cluster (initdb in a temp folder; needs root and the server binaries,
// as the outage test does) and three server processes on it; a mixed load on all three:
//   - writers: createOrder and addOrderItem, half with a commandId; a command that fails is retried with
//     the same commandId (and input) until it answers, and must then give its first result;
//   - readers: order(id, after: <the writer's token>) right after each acknowledged write (the time the
//     read takes is the after: latency);
//   - SOAK_SUBSCRIPTIONS (200) graphql-ws subscriptions (orderChanged and projectionProgress), whose
//     clients reconnect on the close codes graphql-ws retries on;
// and every 30-60 s one fault: kill -9 of a server (restarted), a PostgreSQL restart (-m fast or -m
// immediate, while the load goes on; its outage is measured from the stop to the first connection the
// database accepts again), the LISTEN connections killed (pg_terminate_backend), a projection paused and
// resumed, or a rebuild.
// Checked as it runs: no read with a token is older than it, and none fails (one whose server died under
// it is asked again, and counted apart).
// At the end, checked: every acknowledged command's events exist exactly once; every command with a
// commandId, retried or not, answered what the store recorded for it; each read model equals a from-scratch rebuild of it, row for row; every subscription
// saw positions that never went back and reached the end, or was closed with a retryable code. The
// summary prints the counts, the mismatches (0) and the worst after: latency in the 20 s after each
// fault, whose goal is the fault's database outage (0 for the others) plus 2 s.
// Env: SOAK_MINUTES (10), SOAK_WRITERS (6), SOAK_SUBSCRIPTIONS (200), SOAK_SEED, SOAK_FAULTS (a
// comma-separated choice of kill,restart-fast,restart-immediate,listen,pause,rebuild; all by default).
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { sql } from 'drizzle-orm';
import { openDatabase } from '../src/infra/db/open-database.ts';
import {
  canRunPrivateCluster,
  startPrivateCluster,
  startServer,
  type PrivateCluster,
  type ServerProcess,
} from '../test/support/processes.ts';

const minutes = Number(process.env.SOAK_MINUTES ?? '10');
const writerCount = Number(process.env.SOAK_WRITERS ?? '6');
const subscriptionCount = Number(process.env.SOAK_SUBSCRIPTIONS ?? '200');
const initialSeed = Number(process.env.SOAK_SEED ?? Date.now() % 100000);
let seed = initialSeed;
const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
const log = (message: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${message}\n`);

const CREATE = `mutation($input: CreateOrderInput!) { createOrder(input: $input) { orderId version consistencyToken } }`;
const ADD = `mutation($input: AddOrderItemInput!) { addOrderItem(input: $input) { orderId version consistencyToken } }`;
const READ = `query($id: ID!, $t: ConsistencyToken) { order(id: $id, after: $t) { id version } }`;
const PROJECTIONS = ['orders', 'customer_summaries', 'products', 'order_fulfilments'];
const RETRYABLE_CLOSE = new Set([1006, 1012, 1013, 1001, 4500]);

type Acked = { kind: 'create' | 'add'; orderId: string; version: number; commandId?: string; retried: boolean };
type Fault = { at: number; kind: string; outageMs: number; worstAfterMs: number };

/** Each fault by its SOAK_FAULTS name. */
const FAULTS = {
  kill: 'kill -9 a server',
  'restart-fast': 'restart PostgreSQL -m fast',
  'restart-immediate': 'restart PostgreSQL -m immediate',
  listen: 'kill the LISTEN connections',
  pause: 'pause and resume a projection',
  rebuild: 'rebuild a projection',
} as const;
/** How much later than the fault's own outage the worst after: read may answer. */
const AFTER_GOAL_MARGIN_MS = 2000;

function chosenFaults(): string[] {
  const names = (process.env.SOAK_FAULTS ?? Object.keys(FAULTS).join(',')).split(',').map((n) => n.trim());
  const unknown = names.filter((n) => !(n in FAULTS));
  if (unknown.length > 0 || names.length === 0) {
    throw new Error(`SOAK_FAULTS: unknown fault ${unknown.join(', ')}; choose from ${Object.keys(FAULTS).join(', ')}`);
  }
  return names.map((n) => FAULTS[n as keyof typeof FAULTS]);
}

async function main(): Promise<number> {
  if (!canRunPrivateCluster()) {
    log('soak needs root and the PostgreSQL server binaries (initdb, pg_ctl) to run a private cluster');
    return 2;
  }
  const kinds = chosenFaults();
  log(`soak: ${minutes} min, ${writerCount} writers, ${subscriptionCount} subscriptions, seed ${initialSeed}`);
  const cluster = await startPrivateCluster();
  const servers: (ServerProcess | undefined)[] = [];
  const ws: WsClient[] = [];
  try {
    const env = {
      DATABASE_URL: cluster.url,
      DATA_KEY_SECRET: process.env.DATA_KEY_SECRET ?? 'converge-soak-data-key-secret-0123456789',
      LOG_LEVEL: 'warn',
      CONSISTENCY_TIMEOUT_MS: '10000',
    };
    for (let i = 0; i < 3; i++) servers.push(await startServer(env));
    const live = () => servers.filter((s): s is ServerProcess => s !== undefined && s.child.exitCode === null);
    const pick = () => {
      const list = live();
      return list[Math.floor(random() * list.length)]!;
    };

    const acked: Acked[] = [];
    const faults: Fault[] = [];
    const afterSamples: { at: number; ms: number }[] = [];
    let commands = 0;
    let retries = 0;
    let retryMismatches = 0;
    let behind = 0;
    let readErrors = 0;
    let readsLost = 0;
    let stale = 0;
    let running = true;
    const deadline = Date.now() + minutes * 60_000;

    const gql = async (query: string, variables: Record<string, unknown>) => {
      const server = pick();
      const response = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
        body: JSON.stringify({ query, variables }),
        signal: AbortSignal.timeout(20_000),
      });
      return (await response.json()) as { data?: any; errors?: { message: string; extensions?: { code?: string } }[]; extensions?: any };
    };

    /** A command until it answers with data or a definite refusal; with a commandId, retried as such. */
    async function command(query: string, input: Record<string, unknown>, field: string) {
      const commandId = random() < 0.5 ? `soak-${crypto.randomUUID()}` : undefined;
      let retried = false;
      for (let attempt = 0; attempt < 50; attempt++) {
        commands++;
        try {
          const r = await gql(query, { input: { ...input, ...(commandId && { commandId }) } });
          const payload = r.data?.[field];
          if (payload) {
            acked.push({
              kind: field === 'createOrder' ? 'create' : 'add',
              orderId: payload.orderId,
              version: payload.version,
              commandId,
              retried,
            });
            return payload as { orderId: string; version: number; consistencyToken: string };
          }
          const code = r.errors?.[0]?.extensions?.code;
          if (code && !['SERVICE_UNAVAILABLE', 'INTERNAL_SERVER_ERROR'].includes(code)) return undefined; // a refusal, nothing appended
        } catch {
          // the server died under the request, or the database did: the outcome is unknown
        }
        // Without a commandId a retry could apply the command twice: give up on it instead.
        if (!commandId) return undefined;
        retried = true;
        retries++;
        await sleep(200 + random() * 300);
      }
      return undefined;
    }

    const address = { line1: '1 Main St', city: 'Berlin', postalCode: '10115', country: 'DE' };
    const writers = Array.from({ length: writerCount }, async (_, w) => {
      let current: string | undefined;
      let lines = 0;
      for (let n = 0; running && Date.now() < deadline; n++) {
        const payload =
          !current || lines >= 20
            ? await command(
                CREATE,
                {
                  customerId: `soak-${w}`,
                  items: [{ productId: `sku-${n % 50}`, quantity: 1, unitPrice: '2.50' }],
                  shippingAddress: address,
                },
                'createOrder',
              )
            : await command(ADD, { orderId: current, productId: `sku-${n % 50}`, quantity: 1, unitPrice: '1.25' }, 'addOrderItem');
        if (!payload) {
          current = undefined;
          continue;
        }
        if (payload.version === 1) {
          current = payload.orderId;
          lines = 1;
        } else lines++;
        // The read with the writer's token; a read whose server died under it is asked again (of any server).
        const started = Date.now();
        for (let attempt = 0; attempt < 5; attempt++) {
          let r: Awaited<ReturnType<typeof gql>>;
          try {
            r = await gql(READ, { id: payload.orderId, t: payload.consistencyToken });
          } catch {
            readsLost++; // no answer: its server died under it
            await sleep(100);
            continue;
          }
          if (!r.data?.order) {
            readErrors++;
            if (readErrors <= 5) log(`read failed: ${JSON.stringify(r.errors ?? r).slice(0, 300)}`);
            await sleep(100);
            continue;
          }
          if (r.extensions?.consistency?.stale) stale++;
          else if (r.data.order.version < payload.version) {
            behind++;
            log(`read behind its token: ${payload.orderId} v${r.data.order.version}, acknowledged v${payload.version}`);
          }
          const ms = Date.now() - started;
          afterSamples.push({ at: started, ms });
          if (ms > 3000) log(`slow after: read, ${ms} ms from ${new Date(started).toISOString().slice(11, 23)}`);
          break;
        }
      }
    });

    // Subscriptions: graphql-ws clients that reconnect (to any live server) whenever their socket closes;
    // each close code is counted, and one graphql-ws would not retry on is a failure.
    const progressSeen: { last: Map<string, bigint> }[] = [];
    let wentBack = 0;
    let closedBadly = 0;
    const closeCodes = new Map<number, number>();
    for (let i = 0; i < Math.max(1, Math.ceil(subscriptionCount / 20)); i++) {
      const client = createWsClient({
        url: () => pick().url.replace(/^http/, 'ws'),
        webSocketImpl: WebSocket,
        retryAttempts: Infinity,
        shouldRetry: () => true,
        retryWait: () => sleep(200 + random() * 500),
        lazy: false,
      });
      client.on('closed', (event) => {
        const code = (event as { code?: number }).code ?? 0;
        closeCodes.set(code, (closeCodes.get(code) ?? 0) + 1);
        if (running && !RETRYABLE_CLOSE.has(code)) closedBadly++;
      });
      ws.push(client);
    }
    for (let i = 0; i < subscriptionCount; i++) {
      const state = { last: new Map<string, bigint>() };
      progressSeen.push(state);
      ws[i % ws.length]!.subscribe<{ projectionProgress: { projection: string; position: string | null } }>(
        { query: `subscription { projectionProgress { projection position } }` },
        {
          next: ({ data }) => {
            const p = data?.projectionProgress;
            if (!p?.position) return;
            const value = tokenValue(p.position);
            const before = state.last.get(p.projection);
            if (before !== undefined && value < before) wentBack++;
            state.last.set(p.projection, value);
          },
          error: () => {},
          complete: () => {},
        },
      );
    }

    // Faults, one every 30-60 s.
    const faultLoop = (async () => {
      while (Date.now() < deadline - 20_000) {
        await sleep(30_000 + random() * 30_000);
        if (Date.now() >= deadline - 20_000) break;
        const kind = kinds[Math.floor(random() * kinds.length)]!;
        const at = Date.now();
        log(`fault: ${kind}`);
        let outageMs = 0;
        try {
          outageMs = (await injectFault(kind, cluster, servers, env))?.outageMs ?? 0;
        } catch (error) {
          log(`fault ${kind} failed to inject: ${(error as Error).message}`);
        }
        faults.push({ at, kind, outageMs, worstAfterMs: 0 });
      }
    })();

    await Promise.all(writers);
    running = false;
    await faultLoop;
    log('load stopped; checking');

    // Worst after: latency within 20 s after each fault.
    for (const fault of faults) {
      fault.worstAfterMs = Math.max(0, ...afterSamples.filter((s) => s.at >= fault.at && s.at < fault.at + 20_000).map((s) => s.ms));
    }

    const database = await openDatabase({ url: cluster.url });
    let mismatches = 0;
    const problems: string[] = [];
    const finalPositions = new Map<string, bigint>();
    try {
      // Caught up, then where each projection ended; subscribers get a moment to hear of it.
      for (let i = 0; i < 300; i++) {
        const status = await gqlTo(pick(), `{ projections { name state lagEvents } }`);
        if ((status.data?.projections ?? []).every((p: { state: string; lagEvents: number }) => p.state === 'RUNNING' && p.lagEvents === 0))
          break;
        await sleep(200);
      }
      for (const row of await database.rows<{ name: string; tx: string; pos: string }>(
        sql`select name, position_tx::text as tx, position::text as pos from projections`,
      )) {
        finalPositions.set(row.name, BigInt(row.tx) * 2n ** 64n + BigInt(row.pos));
      }
      await sleep(3000);
      // 1. Every acknowledged command's events, exactly once.
      const created = await database.rows<{ stream_id: string; n: number; head: number }>(sql`
        select stream_id, count(*) filter (where type = 'OrderCreated')::int as n, max(version)::int as head from events where stream_type = 'Order' group by stream_id`);
      const streams = new Map(created.map((r) => [r.stream_id, r]));
      for (const a of acked) {
        const s = streams.get(a.orderId);
        if (s?.n !== 1 || s.head < a.version) {
          mismatches++;
          problems.push(`acknowledged ${a.kind} ${a.orderId} v${a.version}: ${JSON.stringify(s)}`);
        }
      }
      const duplicates = await database.rows<{ n: number }>(
        sql`select count(*)::int as n from (select stream_id, version from events group by 1, 2 having count(*) > 1) d`,
      );
      if (duplicates[0]!.n > 0) {
        mismatches++;
        problems.push(`${duplicates[0]!.n} duplicate (stream, version) pairs`);
      }
      // 2. A command with a commandId answered what the store recorded for it (its first result), retried
      // or not.
      const recorded = await database.rows<{ command_id: string; stream_id: string; version: number }>(sql`
        select command_id, stream_id, version from commands where command_id like 'soak-%'`);
      const byId = new Map(recorded.map((r) => [r.command_id, r]));
      for (const a of acked.filter((x) => x.commandId)) {
        const r = byId.get(a.commandId!);
        if (!r || r.stream_id !== a.orderId || r.version !== a.version) {
          retryMismatches++;
          problems.push(
            `command ${a.commandId}${a.retried ? ' (retried)' : ''} answered ${a.orderId} v${a.version}, recorded ${JSON.stringify(r)}`,
          );
        }
      }
      mismatches += retryMismatches;
      // 3. Each read model equals a from-scratch rebuild of it.
      const snapshot = async (table: string) => database.rows(sql.raw(`select * from "${table}" order by 1`));
      const tables: Record<string, string[]> = {
        orders: ['orders'],
        customer_summaries: ['customer_summaries'],
        products: ['products'],
        order_fulfilments: ['order_fulfilments'],
      };
      const server = pick();
      for (const projection of PROJECTIONS) {
        const before = await Promise.all(tables[projection]!.map(snapshot));
        await gqlTo(server, `mutation { rebuildProjection(name: "${projection}") { state } }`);
        for (let i = 0; i < 600; i++) {
          const status = await gqlTo(server, `{ projections { name state lagEvents } }`);
          const mine = status.data?.projections?.find((p: { name: string }) => p.name === projection);
          if (mine?.state === 'RUNNING' && mine.lagEvents === 0) break;
          await sleep(200);
        }
        const after = await Promise.all(tables[projection]!.map(snapshot));
        if (JSON.stringify(before) !== JSON.stringify(after)) {
          mismatches++;
          problems.push(`${projection} differs from its rebuild`);
        }
      }
    } finally {
      await database.close();
    }
    // 4. Subscriptions: each saw its projections reach where they ended (positions never went back,
    // counted as they came).
    const missedEnd = progressSeen.filter((seen) =>
      PROJECTIONS.some((p) => (seen.last.get(p) ?? -1n) < (finalPositions.get(p) ?? 0n)),
    ).length;
    mismatches += wentBack + closedBadly + missedEnd;
    for (const c of ws) await c.dispose();
    const summary = [
      `soak summary (${minutes} min, seed ${initialSeed})`,
      `  commands sent ${commands}, acknowledged ${acked.length} (${acked.filter((a) => a.commandId).length} with commandId), retries ${retries}`,
      `  after: reads ${afterSamples.length}, stale ${stale}, behind their token ${behind}, answered with an error ${readErrors}, ` +
        `lost with their server and asked again ${readsLost}`,
      `  subscriptions ${subscriptionCount}: positions going back ${wentBack}, closed with a code graphql-ws does not retry ${closedBadly}, ` +
        `missing the final position ${missedEnd}; socket closes by code ${JSON.stringify(Object.fromEntries(closeCodes))}`,
      `  faults ${faults.length}:`,
      ...faults.map(
        (f) =>
          `    ${new Date(f.at).toISOString().slice(11, 19)} ${f.kind.padEnd(32)} outage ${String(f.outageMs).padStart(5)} ms, ` +
          `worst after: latency in the next 20 s ${String(f.worstAfterMs).padStart(5)} ms${overGoal(f) ? ' (over its goal of outage + 2 s)' : ''}`,
      ),
      `  mismatches ${mismatches}${problems.length ? `: ${problems.slice(0, 10).join('; ')}` : ''}`,
    ];
    process.stdout.write(`${summary.join('\n')}\n`);
    return mismatches === 0 && behind === 0 && readErrors === 0 && !faults.some(overGoal) ? 0 : 1;
  } finally {
    for (const s of servers) if (s && s.child.exitCode === null) s.kill('SIGKILL');
    await Promise.all(servers.map((s) => s?.exited));
    cluster.destroy();
  }
}

const overGoal = (fault: Fault) => fault.worstAfterMs > fault.outageMs + AFTER_GOAL_MARGIN_MS;

/** A consistency token ("c1.<tx>.<pos>", base 36) as one comparable number. */
function tokenValue(token: string): bigint {
  const [, tx, pos] = token.split('.');
  const base36 = (digits: string) => [...digits].reduce((n, ch) => n * 36n + BigInt(parseInt(ch, 36)), 0n);
  return base36(tx!) * 2n ** 64n + base36(pos!);
}

async function gqlTo(server: ServerProcess, query: string) {
  const response = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query }),
  });
  return (await response.json()) as { data?: any; errors?: unknown[] };
}

/** Injects one fault; a PostgreSQL restart resolves with the database's own outage. */
async function injectFault(
  kind: string,
  cluster: PrivateCluster,
  servers: (ServerProcess | undefined)[],
  env: Record<string, string>,
): Promise<{ outageMs: number } | undefined> {
  switch (kind) {
    case FAULTS.kill: {
      const i = Math.floor(random() * servers.length);
      const victim = servers[i];
      if (!victim) return;
      victim.kill('SIGKILL');
      await victim.exited;
      servers[i] = undefined;
      servers[i] = await startServer(env);
      return;
    }
    case FAULTS['restart-fast']:
      return cluster.bounce('fast');
    case FAULTS['restart-immediate']:
      return cluster.bounce('immediate');
    case FAULTS.listen: {
      const database = await openDatabase({ url: cluster.url, poolMax: 1 });
      try {
        await database.rows(
          sql`select pg_terminate_backend(pid) from pg_stat_activity where query ilike 'listen%' and pid <> pg_backend_pid()`,
        );
      } finally {
        await database.close();
      }
      return;
    }
    case FAULTS.pause: {
      const server = servers.find((s) => s && s.child.exitCode === null)!;
      const name = PROJECTIONS[Math.floor(random() * PROJECTIONS.length)]!;
      await gqlTo(server, `mutation { pauseProjection(name: "${name}") { state } }`);
      await sleep(2000);
      await gqlTo(server, `mutation { resumeProjection(name: "${name}") { state } }`);
      return;
    }
    case FAULTS.rebuild: {
      const server = servers.find((s) => s && s.child.exitCode === null)!;
      await gqlTo(server, `mutation { rebuildProjection(name: "${PROJECTIONS[Math.floor(random() * PROJECTIONS.length)]}") { state } }`);
      return;
    }
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(`soak failed: ${(error as Error)?.stack ?? String(error)}`);
    process.exit(1);
  },
);

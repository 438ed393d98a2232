// Scenario `budget`: where a read-your-writes wait goes, under the `projections` scenario's load
// (BACKGROUND_RATE commands/s, a foreground command every RYW_INTERVAL_MS, every module running as in
// production), timed from the outside only: a wrapped Database (each projection's batch read), wrapped
// projections (apply), wrapped deciders (decide, evolve), the services' observer (command, append), the
// trackers' advances (the step's commit reaching the local tracker and, through NOTIFY and LISTEN, a
// second process's), and PostgreSQL's own function timings (track_functions = 'pl' on this bench's
// database: the append lock trigger, the event horizon, converge_advance_projection).
//   budget steps      per projection: steps, events per step, mean ms of read, apply, write (the
//                     statement of its writes + checkpoint + NOTIFY, with its commit)
//   budget commands   per command type: mean ms of the command, decide, evolve, append; and per append
//                     statement of the horizon trigger
//   budget wait       each foreground wait split: queued (commit to the covering step's read), read,
//                     apply, write, wake-up (step committed to the waiter resolved), remote wake-up
// Env: BACKGROUND_RATE (500), RYW_INTERVAL_MS (20), BUDGET_DB (converge_budget_bench), and lib.ts's
// DURATION_S, WARMUP_S (at least 2), POOL_MAX.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import postgres from 'postgres';
import type { Aggregate, DomainModule } from '../src/core/module.ts';
import { comparePositions, type Position } from '../src/core/position.ts';
import type { SqlProjection } from '../src/core/sql-projection.ts';
import type { Database } from '../src/infra/db/database.ts';
import { migrate } from '../src/infra/db/migrate.ts';
import { openDatabase } from '../src/infra/db/open-database.ts';
import { MODULES } from '../src/modules.ts';
import { createServices, type Services, type ServicesObserver } from '../src/services.ts';
import {
  databaseUrl,
  ensureDatabase,
  env,
  log,
  percentile,
  positiveNumber,
  recorderWithLoad,
  round,
  truncatePublicTables,
  type BenchContext,
  type Measurement,
  type ScenarioOutcome,
} from './lib.ts';
import { measureReadYourWrites } from './projections.ts';

const WAITED = ['orders', 'customer_summaries'] as const;

type Span = { start: number; end: number; rows?: number; sharedBy?: number };
type Advance = { at: number; position: Position };

/** What the hooks saw, per projection or command type. */
class Timings {
  reads = new Map<string, Span[]>();
  applies = new Map<string, Span[]>();
  local = new Map<string, Advance[]>();
  remote = new Map<string, Advance[]>();
  commands = new Map<string, number[]>();
  decides = new Map<string, number[]>();
  evolves = new Map<string, number[]>();
  appends: number[] = [];
  recording = false;

  push<K>(map: Map<K, number[] | Span[] | Advance[]>, key: K, value: number | Span | Advance) {
    if (!this.recording) return;
    if (!map.has(key)) map.set(key, []);
    (map.get(key) as unknown[]).push(value);
  }
}

/** The projections' batch reads, timed (the first parameter of a batch statement names the projections it reads for). */
function timedDatabase(database: Database, t: Timings): Database {
  const batches = database.projectionBatches;
  return {
    ...database,
    projectionBatches: {
      ...batches,
      async query<T>(text: string, params: readonly unknown[]) {
        const start = performance.now();
        const rows = await batches.query<T>(text, params);
        const names = JSON.parse(String(params[0])) as string[];
        for (const name of names) t.push(t.reads, name, { start, end: performance.now(), rows: rows.length, sharedBy: names.length });
        return rows;
      },
    },
  } as Database;
}

function timedProjection(projection: SqlProjection, t: Timings): SqlProjection {
  return {
    ...projection,
    async apply(events, step) {
      const start = performance.now();
      await projection.apply(events, step);
      t.push(t.applies, projection.name, { start, end: performance.now() });
    },
  };
}

/** The modules, their deciders' decide and evolve timed (summed per command over its fold). */
function timedModules(t: Timings): DomainModule[] {
  const timedAggregate = (aggregate: Aggregate<any, any, any>): Aggregate<any, any, any> => {
    const { decider } = aggregate;
    return {
      ...aggregate,
      decider: {
        ...decider,
        decide(command, state) {
          const start = performance.now();
          try {
            return decider.decide(command, state);
          } finally {
            t.push(t.decides, command.type, performance.now() - start);
          }
        },
        evolve(state, event) {
          const start = performance.now();
          try {
            return decider.evolve(state, event);
          } finally {
            t.push(t.evolves, aggregate.streamType, performance.now() - start);
          }
        },
      },
    };
  };
  return MODULES.map(({ module }) => ({ ...module, aggregates: module.aggregates.map(timedAggregate) }));
}

const mean = (values: number[]) => (values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length);
const ms = (value: number | null) => round(value, 3);

/** The first advance at or past `token`. */
const covering = (advances: Advance[] | undefined, token: Position) => advances?.find((a) => comparePositions(a.position, token) >= 0);
/** The last span of `spans` that started before `at` (and after `after`). */
const lastBefore = (spans: Span[] | undefined, at: number, after = -Infinity) => spans?.findLast((s) => s.start < at && s.start >= after);

/** Each projection step: the read and apply that preceded its advance. */
function steps(t: Timings, name: string) {
  let previous = -Infinity;
  return (t.local.get(name) ?? []).map((advance) => {
    const read = lastBefore(t.reads.get(name), advance.at, previous);
    const apply = read && lastBefore(t.applies.get(name), advance.at, read.start);
    previous = advance.at;
    return { advance, read, apply };
  });
}

type FunctionStats = Record<string, { calls: number; totalMs: number; selfMs: number }>;

async function functionStats(url: string): Promise<FunctionStats> {
  const client = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const rows = await client<{ funcname: string; calls: string; total_time: number; self_time: number }[]>`
      select funcname, calls, total_time, self_time from pg_stat_user_functions where funcname like 'converge_%'`;
    return Object.fromEntries(rows.map((r) => [r.funcname, { calls: Number(r.calls), totalMs: r.total_time, selfMs: r.self_time }]));
  } finally {
    await client.end({ timeout: 5 });
  }
}

export async function run(context: BenchContext): Promise<ScenarioOutcome> {
  const { config } = context;
  const record = recorderWithLoad(context);
  const rate = positiveNumber('BACKGROUND_RATE', '500');
  const intervalMs = positiveNumber('RYW_INTERVAL_MS', '20');
  const url = databaseUrl(config.baseUrl, env('BUDGET_DB', 'converge_budget_bench'));
  const dbName = decodeURIComponent(new URL(url).pathname.slice(1));
  await ensureDatabase(url);
  // Before the pool opens: the setting applies to sessions started after it.
  const admin = postgres(databaseUrl(config.baseUrl, 'postgres'), { max: 1, onnotice: () => {} });
  await admin.unsafe(`alter database "${dbName}" set track_functions = 'pl'`);
  await admin.end({ timeout: 5 });

  const t = new Timings();
  const raw = await openDatabase({ url, poolMax: config.poolMax, applicationName: 'converge-bench' });
  const apiDatabase = await openDatabase({ url, poolMax: config.poolMax, applicationName: 'converge-bench-api' });
  const measurements: Measurement[] = [];
  const lines: string[] = ['budget (mean ms unless said; p50 for the wait parts)'];
  let local: Services | undefined;
  let remote: Services | undefined;
  try {
    await migrate(raw);
    await truncatePublicTables(raw);
    const observe: ServicesObserver = {
      command: (info) => t.push(t.commands, info.type, info.durationMs),
      append: (durationMs) => {
        if (t.recording) t.appends.push(durationMs);
      },
      waitRefused: () => {},
    };
    const modules = timedModules(t);
    local = createServices(timedDatabase(raw, t), {
      modules,
      runProjections: true,
      consistencyTimeoutMs: 5000,
      observe,
      projections: (defaults) => defaults.map((p) => timedProjection(p, t)),
    });
    remote = createServices(apiDatabase, { modules, runProjections: false, consistencyTimeoutMs: 5000 });
    local.tracker.subscribe(({ projection, position }) => position && t.push(t.local, projection, { at: performance.now(), position }));
    remote.tracker.subscribe(({ projection, position }) => position && t.push(t.remote, projection, { at: performance.now(), position }));
    await local.start();
    await remote.start();

    const samples: { token: Position; t0: number; t1: number }[] = [];
    const before = await functionStats(url);
    log(`budget: ${rate} cmds/s background, one every ${intervalMs} ms, every module...`);
    const result = await measureReadYourWrites({
      writer: local,
      waiter: local,
      config: { ...config, warmupS: Math.max(config.warmupS, 2) },
      rate,
      intervalMs,
      onSample: (token, t0, t1) => {
        t.recording = true;
        samples.push({ token, t0, t1 });
      },
    });
    t.recording = false;
    await sleep(500); // the remote tracker hears of the last steps
    await remote.stop();
    remote = undefined;
    await local.stop();
    local = undefined;
    await raw.close();
    await apiDatabase.close();
    await sleep(1500); // sessions flush their function statistics when they end
    const after = await functionStats(url);

    // Per projection: its steps.
    const names = [...t.local.keys()].sort();
    for (const name of names) {
      const list = steps(t, name).filter((s) => s.read);
      const events = list.length;
      const perStep = mean(list.map((s) => s.read!.rows ?? 0));
      const sharedBy = mean(list.map((s) => s.read!.sharedBy ?? 1));
      const read = mean(list.map((s) => s.read!.end - s.read!.start));
      const apply = mean(list.map((s) => (s.apply ? s.apply.end - s.apply.start : 0)));
      const write = mean(list.map((s) => s.advance.at - (s.apply?.end ?? s.read!.end)));
      const m = record(
        {
          system: 'converge',
          scenario: `budget-step ${name}`,
          concurrency: 1,
          opsPerSec: round(events / result.seconds, 1)!,
          p50ms: null,
          p99ms: null,
          ops: events,
          seconds: round(result.seconds, 3)!,
          errors: 0,
          pool: config.poolMax,
        },
        { rowsPerStep: round(perStep, 2), sharedBy: round(sharedBy, 2), readMs: ms(read), applyMs: ms(apply), writeMs: ms(write) },
      );
      measurements.push(m);
      lines.push(
        `  step ${name.padEnd(22)} ${String(events).padStart(5)} steps (${(events / result.seconds).toFixed(0)}/s, ${round(perStep, 1)} rows read each, shared by ${round(sharedBy, 1)}): ` +
          `read ${ms(read)}, apply ${ms(apply)}, write+checkpoint+notify+commit ${ms(write)}`,
      );
    }

    // Per command type.
    for (const [type, durations] of [...t.commands].sort()) {
      const decide = mean(t.decides.get(type) ?? []);
      const sorted = [...durations].sort((a, b) => a - b);
      lines.push(
        `  command ${type.padEnd(20)} ${String(durations.length).padStart(5)}: p50 ${ms(percentile(sorted, 50))}, ` +
          `mean ${ms(mean(durations))}, decide ${ms(decide)}`,
      );
      measurements.push(
        record(
          {
            system: 'converge',
            scenario: `budget-command ${type}`,
            concurrency: 1,
            opsPerSec: round(durations.length / result.seconds, 1)!,
            p50ms: ms(percentile(sorted, 50)),
            p99ms: ms(percentile(sorted, 99)),
            ops: durations.length,
            seconds: round(result.seconds, 3)!,
            errors: 0,
            pool: config.poolMax,
          },
          { meanMs: ms(mean(durations)), decideMs: ms(decide) },
        ),
      );
    }
    for (const [type, list] of t.evolves) lines.push(`  evolve ${type}: ${ms(mean(list))} per event (${list.length})`);
    const appends = [...t.appends].sort((a, b) => a - b);
    lines.push(`  append statements ${appends.length}: p50 ${ms(percentile(appends, 50))}, mean ${ms(mean(appends))}`);
    for (const [fn, stats] of Object.entries(after)) {
      const calls = stats.calls - (before[fn]?.calls ?? 0);
      if (calls <= 0) continue;
      const self = (stats.selfMs - (before[fn]?.selfMs ?? 0)) / calls;
      const total = (stats.totalMs - (before[fn]?.totalMs ?? 0)) / calls;
      lines.push(`  function ${fn.padEnd(34)} ${String(calls).padStart(6)} calls: ${ms(total)} per call (self ${ms(self)})`);
    }

    // Each foreground wait, split.
    const parts = {
      queued: [] as number[],
      read: [] as number[],
      apply: [] as number[],
      write: [] as number[],
      wake: [] as number[],
      remoteWake: [] as number[],
      total: [] as number[],
    };
    for (const { token, t0, t1 } of samples) {
      // The projection that got there last decides the wait.
      const last = WAITED.map((name) => ({ name, advance: covering(t.local.get(name), token) }))
        .filter((x) => x.advance)
        .sort((a, b) => a.advance!.at - b.advance!.at)
        .at(-1);
      if (!last?.advance) continue;
      const step = steps(t, last.name).find((s) => s.advance === last.advance);
      if (!step?.read) continue;
      const applyEnd = step.apply?.end ?? step.read.end;
      parts.queued.push(Math.max(0, step.read.start - t0));
      parts.read.push(step.read.end - step.read.start);
      parts.apply.push(step.apply ? step.apply.end - step.apply.start : 0);
      parts.write.push(step.advance.at - applyEnd);
      parts.wake.push(t1 - step.advance.at);
      parts.total.push(t1 - t0);
      const heard = covering(t.remote.get(last.name), token);
      if (heard) parts.remoteWake.push(heard.at - step.advance.at);
    }
    const p50 = (values: number[]) =>
      ms(
        percentile(
          [...values].sort((a, b) => a - b),
          50,
        ),
      );
    const p99 = (values: number[]) =>
      ms(
        percentile(
          [...values].sort((a, b) => a - b),
          99,
        ),
      );
    lines.push(
      `  wait (${parts.total.length} samples) p50/p99: total ${p50(parts.total)}/${p99(parts.total)}; queued ${p50(parts.queued)}/${p99(parts.queued)}, ` +
        `read ${p50(parts.read)}/${p99(parts.read)}, apply ${p50(parts.apply)}/${p99(parts.apply)}, write ${p50(parts.write)}/${p99(parts.write)}, ` +
        `wake-up ${p50(parts.wake)}/${p99(parts.wake)}; remote wake-up (NOTIFY to a second process's tracker) ${p50(parts.remoteWake)}/${p99(parts.remoteWake)}`,
    );
    measurements.push(
      record(
        {
          system: 'converge',
          scenario: 'budget-wait',
          concurrency: 1,
          opsPerSec: round(result.background, 1)!,
          p50ms: p50(parts.total),
          p99ms: p99(parts.total),
          ops: parts.total.length,
          seconds: round(result.seconds, 3)!,
          errors: result.errors,
          pool: config.poolMax,
        },
        Object.fromEntries(
          Object.entries(parts).flatMap(([k, v]) => [
            [`${k}P50ms`, p50(v)],
            [`${k}P99ms`, p99(v)],
          ]),
        ),
      ),
    );
  } finally {
    await remote?.stop().catch(() => {});
    await local?.stop().catch(() => {});
    await raw.close().catch(() => {});
    await apiDatabase.close().catch(() => {});
  }
  return { measurements, summary: lines.join('\n') };
}

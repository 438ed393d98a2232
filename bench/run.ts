// Benchmark entry point: `tsx bench/run.ts [scenario...]` runs the named scenarios (all registered ones
// when none is named). Measurements go to stdout as JSON lines and to bench/results/latest.jsonl;
// diagnostics and the per-scenario summaries go to stderr. `tsx bench/run.ts compare <ref>`: see compare.ts.
import { createRecorder, loadConfig, log, newRunId, redactUrl, type ScenarioModule } from './lib.ts';

// Lazy, so that running one scenario never loads (or breaks on) another one's dependencies.
const SCENARIOS: Record<string, () => Promise<ScenarioModule>> = {
  append: () => import('./append.ts'),
  projections: () => import('./projections.ts'),
  http: () => import('./http.ts'),
  fulfilment: () => import('./fulfilment.ts'),
  waits: () => import('./waits.ts'),
  fanout: () => import('./fanout.ts'),
  growth: () => import('./growth.ts'),
  replicas: () => import('./replicas.ts'),
  snapshots: () => import('./snapshots.ts'),
  startup: () => import('./startup.ts'),
  tenants: () => import('./tenants.ts'),
  publish: () => import('./publish.ts'),
  budget: () => import('./budget.ts'),
  live: () => import('./live.ts'),
};

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'compare') return (await import('./compare.ts')).compare(argv.slice(1));
  const names = argv.length > 0 ? argv : Object.keys(SCENARIOS);
  const unknown = names.filter((name) => !(name in SCENARIOS));
  if (unknown.length > 0) {
    log(`unknown scenario(s): ${unknown.join(', ')}; known: ${Object.keys(SCENARIOS).join(', ')}`);
    return 2;
  }
  const config = loadConfig();
  const runId = newRunId();
  log(
    `bench run ${runId}: node ${process.version}, ${redactUrl(config.baseUrl)}, ${config.durationS}s ` +
      `(+${config.warmupS}s warm-up), concurrencies ${config.concurrencies.join(' ')}, pool ${config.poolMax}, ` +
      `scenarios ${names.join(' ')}`,
  );
  const context = { config, runId, record: createRecorder(runId) };
  const summaries: string[] = [];
  for (const name of names) {
    const scenario = await SCENARIOS[name]!();
    const outcome = await scenario.run(context);
    if (outcome.summary) summaries.push(outcome.summary);
  }
  // At the very end, so that the ratios are not buried in the scenarios' progress output.
  for (const summary of summaries) log(`\n${summary}`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    log(`bench failed: ${(error as Error)?.stack ?? String(error)}`);
    process.exitCode = 1;
  },
);

import { defineConfig } from 'vitest/config';

// Files that stop and start PostgreSQL clusters of their own or run several server processes, and measure
// how long reads take meanwhile: run one at a time, after the others, so that no other file's load counts
// against their bounds. (On PGlite most of their tests are skipped, with the reason.)
const ALONE = ['test/e2e/restarts.e2e.test.ts', 'test/e2e/replicas.e2e.test.ts', 'test/e2e/operations.e2e.test.ts'];
// The console in Chromium: a project of its own, so that CI can run and time it as a step of its own
// (`npx vitest run --project browser`); `npm test` runs it last.
const BROWSER = ['test/e2e/console.e2e.test.ts'];

export default defineConfig({
  resolve: {
    // graphql 16 ships CommonJS (main) and ESM (module) copies; Node, which loads Pothos and yoga, takes
    // `main`, while Vite would take `module` for our code: two graphql realms. Use Node's choice.
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  // @converge/client (packages/client, an npm workspace) is tested from its TypeScript sources: its
  // exports map `source` to src/ (tsconfig.json's customConditions does the same for the type check).
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    globalSetup: ['test/support/build-server.ts'],
    // The default reporter, then the reasons of what was skipped (test/support/skip.ts).
    reporters: ['default', './test/support/skip-reporter.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: more workers only make the database tests slower and flakier.
    maxWorkers: 2,
    // Servers the tests start on PostgreSQL need a master key (config.ts); one for every test process.
    env: { DATA_KEY_SECRET: process.env.DATA_KEY_SECRET ?? 'converge-tests-data-key-secret-0123456789' },
    // Two files at a time on PGlite (each has its own in-memory database); one at a time on PostgreSQL:
    // a transaction of another file's database that ends while a read computes its event horizon lowers
    // that horizon for that one read, so a test that reads all right after settle() may miss its last
    // events (measured, and no faster in parallel on this machine: docs/decisions/test-runs.md).
    projects: [
      {
        extends: true,
        test: {
          name: 'main',
          include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
          exclude: [...ALONE, ...BROWSER],
          fileParallelism: !process.env.TEST_DATABASE_URL,
          sequence: { groupOrder: 0 },
        },
      },
      { extends: true, test: { name: 'alone', include: ALONE, fileParallelism: false, sequence: { groupOrder: 1 } } },
      {
        extends: true,
        test: { name: 'browser', include: BROWSER, fileParallelism: !process.env.TEST_DATABASE_URL, sequence: { groupOrder: 2 } },
      },
    ],
  },
});

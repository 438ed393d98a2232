import { defineConfig } from 'vitest/config';

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
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    globalSetup: ['test/support/build-server.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: more workers only make the database tests slower and flakier.
    maxWorkers: 2,
    // On a shared PostgreSQL server, one file's open transactions hold back what every other file's
    // readers may see (the visibility rule is cluster-wide): run those files one at a time.
    fileParallelism: !process.env.TEST_DATABASE_URL,
    // Servers the tests start on PostgreSQL need a master key (config.ts); one for every test process.
    env: { DATA_KEY_SECRET: process.env.DATA_KEY_SECRET ?? 'converge-tests-data-key-secret-0123456789' },
  },
});

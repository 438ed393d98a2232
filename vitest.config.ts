import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: more workers only make the database tests slower and flakier.
    maxWorkers: 2,
    // On a shared PostgreSQL server, one file's open transactions hold back what every other file's
    // readers may see (the visibility rule is cluster-wide): run those files one at a time.
    fileParallelism: !process.env.TEST_DATABASE_URL,
  },
});

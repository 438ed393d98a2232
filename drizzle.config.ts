import { defineConfig } from 'drizzle-kit';

// Every domain's tables live in its read-models/ folder (beside their specs, left out): a new one needs no line here.
export default defineConfig({
  dialect: 'postgresql',
  schema: ['./src/infra/db/schema.ts', './src/*/read-models/!(*.test).ts'],
  out: './drizzle',
});

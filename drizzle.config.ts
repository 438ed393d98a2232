import { defineConfig } from 'drizzle-kit';

// Every domain's tables live in its read-models/ folder: a new one needs no line here.
export default defineConfig({
  dialect: 'postgresql',
  schema: ['./src/infra/db/schema.ts', './src/*/read-models/*.ts'],
  out: './drizzle',
});

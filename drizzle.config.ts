import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: ['./src/infra/db/schema.ts', './src/orders/read-model.ts', './src/inventory/read-model.ts', './src/fulfilment/read-model.ts'],
  out: './drizzle',
});

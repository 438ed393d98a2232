// `npm run schema:print`: writes the sorted schema of every module to schema.graphql.
import { writeFileSync } from 'node:fs';
import { printSortedSchema } from './graphql/schema.ts';
import { MODULES } from './modules.ts';

writeFileSync(new URL('../schema.graphql', import.meta.url), printSortedSchema(MODULES.map((m) => m.graphql)));

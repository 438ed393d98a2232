// `npm run schema:print`: writes the sorted schema to schema.graphql at the repo root.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { printSortedSchema } from './schema.ts';

const target = fileURLToPath(new URL('../../schema.graphql', import.meta.url));
writeFileSync(target, printSortedSchema());
process.stdout.write(`wrote ${target}\n`);

// `converge new domain <name>`: writes a compiling domain folder from the templates, registers it in
// src/modules.ts, generates its migration (drizzle-kit) and the schema (schema.graphql), and says what
// to do next. It refuses a folder that exists.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { type DomainNames, domainNames } from './names.ts';
import { domainFiles } from './templates.ts';

export class ScaffoldError extends Error {}

/** Adds the domain's import and its entry in MODULES to the text of src/modules.ts. */
export function register(modules: string, names: DomainNames): string {
  const list = /export const MODULES = \[([^\]]*)\]/.exec(modules);
  const lastImport = [...modules.matchAll(/^import .*;$/gm)].at(-1);
  if (!list || !lastImport) throw new ScaffoldError('src/modules.ts has no `export const MODULES = [...]` list to add the domain to');
  const entries = list[1]!
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  const withEntry = modules.replace(list[0], `export const MODULES = [${[...entries, names.camel].join(', ')}]`);
  const at = lastImport.index! + lastImport[0].length;
  return `${withEntry.slice(0, at)}\nimport { ${names.camel} } from './${names.folder}/index.ts';${withEntry.slice(at)}`;
}

export type NewDomainResult = { names: DomainNames; written: string[] };

/** `root`: the project's folder (with src/, drizzle/, node_modules/). */
export function newDomain(
  root: string,
  folder: string,
  options: { aggregate?: string; log?: (line: string) => void } = {},
): NewDomainResult {
  const names = domainNames(folder, options.aggregate);
  const log = options.log ?? (() => {});
  const dir = join(root, 'src', names.folder);
  if (existsSync(dir)) throw new ScaffoldError(`src/${names.folder} exists already; choose another name`);
  const written: string[] = [];
  for (const [file, text] of Object.entries(domainFiles(names))) {
    const path = join(dir, file);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    written.push(relative(root, path));
  }
  const modulesFile = join(root, 'src', 'modules.ts');
  writeFileSync(modulesFile, register(readFileSync(modulesFile, 'utf8'), names));
  log(`wrote src/${names.folder}/ (${written.length} files) and registered it in src/modules.ts`);
  const run = (command: string, args: string[]) => execFileSync(command, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  const bin = (name: string) => join(root, 'node_modules', '.bin', name);
  run(bin('biome'), ['format', '--write', dir, modulesFile]);
  run(bin('drizzle-kit'), ['generate', '--name', names.snake]);
  carryTenants(root, names.snake);
  log(`generated its migration in drizzle/ (table ${names.snake}, with its tenants)`);
  run(process.execPath, ['--import', 'tsx', join(root, 'src', 'print-schema.ts')]);
  log('printed schema.graphql with its type, query and mutation');
  return { names, written };
}

/** What to do next, for the CLI to print. */
export function nextSteps({ names }: NewDomainResult): string[] {
  const steps: [string, string][] = [
    [`npx vitest run src/${names.folder}`, 'its specs (decider and projection), written with converge/testing'],
    [
      'npm start',
      `then in GraphiQL: mutation { create${names.Aggregate}(input: { id: "x-1", name: "First" }) { ${names.aggregate} { id name } } }`,
    ],
    [`src/${names.folder}/`, 'grow it: events.ts, commands/, read-models/ (docs/architecture.md, Adding a domain)'],
  ];
  const width = Math.max(...steps.map(([command]) => command.length));
  return ['Next:', ...steps.map(([command, what]) => `  ${command.padEnd(width)}   ${what}`)];
}

/** The newest migration (drizzle-kit's, for the new table) makes the table a tenants' one (drizzle/0010_tenants.sql). */
function carryTenants(root: string, table: string): void {
  const journal = JSON.parse(readFileSync(join(root, 'drizzle', 'meta', '_journal.json'), 'utf8')) as { entries: { tag: string }[] };
  const file = join(root, 'drizzle', `${journal.entries.at(-1)!.tag}.sql`);
  const text = readFileSync(file, 'utf8').trimEnd();
  writeFileSync(file, `${text}--> statement-breakpoint\nSELECT converge_tenant_table('${table}');\n`);
}

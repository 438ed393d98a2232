// The layers of src/ (docs/architecture.md, Layers), checked by `npm run check:deps` in CI:
// core at the bottom; domains on core; the shared GraphQL layer and infra on core; the test kit
// (src/testing/) on core and infra, for tests only; the scaffold (src/scaffold/) on nothing; the
// composition root (app, services, modules, main, cli) on all; the client package (packages/client/)
// and the operator console (console/) stand alone. No import cycle anywhere.
const DOMAIN = '^src/(?!core/|graphql/|infra/|testing/|scaffold/)[^/]+/';
const TEST = '\\.test\\.ts$';
const COMPOSITION = '^src/[^/]+\\.ts$';
const DRIVERS = 'node_modules/(postgres|@electric-sql/pglite|drizzle-orm/(postgres-js|pglite))/';
const GRAPHQL_LIBRARIES = 'node_modules/(graphql|graphql-yoga|graphql-ws|@pothos/core|@graphql-yoga)/';

module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'Modules import one another in one direction only.',
      from: { path: '^(src|packages/client/src)/' },
      to: { circular: true },
    },
    {
      name: 'core-imports-only-core',
      severity: 'error',
      comment: 'The generic core knows no domain, no GraphQL, no infra and no driver.',
      from: { path: '^src/core/' },
      to: { path: ['^src/(?!core/)', DRIVERS, GRAPHQL_LIBRARIES] },
    },
    {
      name: 'domains-on-core-only',
      severity: 'error',
      comment: 'A domain uses core; it never reaches into infra, a driver or the composition root.',
      from: { path: DOMAIN },
      to: { path: ['^src/infra/', COMPOSITION, DRIVERS] },
    },
    {
      name: 'graphql-only-in-a-domain-face',
      severity: 'error',
      comment: 'Inside a domain only its GraphQL face (graphql.ts or graphql/, and index.ts, which pairs it with the module) knows GraphQL.',
      from: { path: DOMAIN, pathNot: '/(graphql|index)\\.ts$|/graphql/' },
      to: { path: ['^src/graphql/', GRAPHQL_LIBRARIES] },
    },
    {
      name: 'orders-and-inventory-are-upstream',
      severity: 'error',
      comment: 'Orders and Inventory depend on no other domain; fulfilment, the process between them, depends on both.',
      from: { path: '^src/(orders|inventory)/' },
      to: { path: '^src/(?!core/|graphql/|testing/)[^/]+/', pathNot: '^src/$1/' },
    },
    {
      name: 'graphql-on-core-only',
      severity: 'error',
      comment: 'The shared GraphQL layer parses, dispatches and shapes: it knows no domain and no infra.',
      from: { path: '^src/graphql/' },
      to: { path: ['^src/infra/', DOMAIN, COMPOSITION, DRIVERS] },
    },
    {
      name: 'infra-on-core-only',
      severity: 'error',
      comment: 'Infra implements the core ports; it knows no domain, no GraphQL layer and no composition root.',
      from: { path: '^src/infra/' },
      to: { path: ['^src/graphql/', DOMAIN, COMPOSITION] },
    },
    {
      name: 'testing-on-core-and-infra',
      severity: 'error',
      comment: 'The test kit runs projections on an embedded database: core and infra, never a domain, GraphQL or the root.',
      from: { path: '^src/testing/' },
      to: { path: ['^src/graphql/', DOMAIN, COMPOSITION, GRAPHQL_LIBRARIES] },
    },
    {
      name: 'only-tests-use-the-kit',
      severity: 'error',
      comment: 'converge/testing is for specs: no running code imports it.',
      from: { path: '^src/(?!testing/)', pathNot: TEST },
      to: { path: '^src/testing/' },
    },
    {
      name: 'opentelemetry-only-in-observability',
      severity: 'error',
      comment: 'Spans are made through the core tracing port (core/tracing.ts); OpenTelemetry itself is infra/observability/ business.',
      from: { path: '^src/', pathNot: '^src/infra/observability/' },
      to: { path: 'node_modules/@opentelemetry/' },
    },
    {
      name: 'scaffold-stands-alone',
      severity: 'error',
      comment: 'converge new domain writes files from templates: it imports nothing of the service.',
      from: { path: '^src/scaffold/' },
      to: { path: '^src/(?!scaffold/)' },
    },
    {
      name: 'client-is-standalone',
      severity: 'error',
      comment: '@converge/client runs in applications: it imports no server code.',
      from: { path: '^packages/client/' },
      to: { path: '^src/' },
    },
    {
      name: 'nothing-imports-the-client',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^packages/client/' },
    },
    {
      name: 'console-is-a-client',
      severity: 'error',
      comment: 'The operator console (console/) is a client of the public GraphQL API: it imports no server code.',
      from: { path: '^console/' },
      to: { path: '^src/' },
    },
    {
      name: 'resolvable',
      severity: 'error',
      from: { path: '^(src|packages/client/src|console)/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^console/dist/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};

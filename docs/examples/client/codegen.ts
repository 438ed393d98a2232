// GraphQL Code Generator: typed documents for the example's operations, from the service's schema.
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: 'schema.graphql',
  documents: ['docs/examples/client/operations.ts'],
  generates: {
    'docs/examples/client/gql/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: { useTypeImports: true, enumsAsTypes: true, scalars: { ConsistencyToken: 'string', DateTime: 'string', Money: 'string' } },
    },
  },
  emitLegacyCommonJSImports: false,
};

export default config;

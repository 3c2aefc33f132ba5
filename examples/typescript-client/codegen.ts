import type { CodegenConfig } from '@graphql-codegen/cli';

// Reads the schema the repository commits (exported from the server's code) and the
// graphql() documents in src/, and writes src/gql/ (typed documents and the graphql()
// function) and persisted-documents.json (sha256 -> document, the manifest a server in
// trusted-documents mode loads).
const config: CodegenConfig = {
  schema: '../../schema.graphql',
  documents: ['src/**/*.ts', '!src/gql/**/*'],
  ignoreNoDocuments: false,
  generates: {
    './src/gql/': {
      preset: 'client',
      presetConfig: {
        fragmentMasking: false,
        persistedDocuments: true,
      },
      config: {
        documentMode: 'string',
        strictScalars: true,
        scalars: {
          DateTime: 'string',
          Decimal: 'string',
        },
        enumsAsTypes: true,
        useTypeImports: true,
      },
    },
  },
};

export default config;

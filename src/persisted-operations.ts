// PERSISTED_OPERATIONS=<file>: the server runs only the operations of that manifest, for deployments that
// want a closed API. The manifest maps an id to an operation's text, as GraphQL Codegen's client preset
// writes it (`persistedDocuments: true` → persisted-documents.json, keyed by the document's sha256).
// Clients send the id as `documentId`, or Apollo's `extensions.persistedQuery.sha256Hash`.
import fs from 'node:fs';
import { usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import { createGraphQLError, type Plugin } from 'graphql-yoga';
import { ConfigError } from './config.ts';

export type PersistedOperations = ReadonlyMap<string, string>;

export function loadPersistedOperations(file: string | undefined): PersistedOperations | null {
  if (!file) return null;
  let manifest: unknown;
  try {
    manifest = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError(`Invalid configuration: PERSISTED_OPERATIONS: cannot read ${file} (${(error as Error).message})`);
  }
  const entries = manifest !== null && typeof manifest === 'object' && !Array.isArray(manifest) ? Object.entries(manifest) : [];
  if (entries.length === 0 || entries.some(([, query]) => typeof query !== 'string')) {
    throw new ConfigError(`Invalid configuration: PERSISTED_OPERATIONS: ${file} must be a JSON object of { id: "operation text" }`);
  }
  return new Map(entries as [string, string][]);
}

type Params = { documentId?: unknown; extensions?: Record<string, any> | null };

/** The persisted operation id a request names, if any. */
export function persistedIdOf(params: Params): string | null {
  const id = params.documentId ?? params.extensions?.persistedQuery?.sha256Hash;
  return typeof id === 'string' ? id : null;
}

/** The text of the operation a request names; a GraphQL error when it names none of the manifest. */
export function persistedQueryFor(operations: PersistedOperations, params: Params): string {
  const id = persistedIdOf(params);
  if (id === null) throw onlyPersisted();
  const query = operations.get(id);
  if (query === undefined) throw createGraphQLError('PersistedQueryNotFound', { extensions: { code: 'BAD_USER_INPUT', http: { status: 404 } } });
  return query;
}

const onlyPersisted = () =>
  createGraphQLError('This server runs persisted operations only: send documentId (or extensions.persistedQuery.sha256Hash)', {
    extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } },
  });

/** The HTTP side: yoga's plugin, with ids read from either place. */
export function usePersistedOperationsOnly(operations: PersistedOperations): Plugin {
  return usePersistedOperations({
    allowArbitraryOperations: false,
    extractPersistedOperationId: (params) => persistedIdOf(params as Params),
    getPersistedOperation: (id) => operations.get(id) ?? null,
    customErrors: {
      persistedQueryOnly: { message: onlyPersisted().message, extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } },
      keyNotFound: { message: onlyPersisted().message, extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } },
      notFound: { message: 'PersistedQueryNotFound', extensions: { code: 'BAD_USER_INPUT', http: { status: 404 } } },
    },
  }) as Plugin;
}

// One compiled form (graphql-jit) per document and operation. Yoga's parser cache hands out one document
// per query text, so each operation is compiled once. graphql-jit is loaded with the first operation that
// needs it.
import type { DocumentNode, ExecutionArgs } from 'graphql';
import type { CompiledQuery } from 'graphql-jit';

export type CompiledOperations = {
  /** The operation compiled, or null where graphql-jit cannot compile it (the executor runs it as before). */
  compiled(args: ExecutionArgs): Promise<CompiledQuery | null>;
};

export function createCompiledOperations(): CompiledOperations {
  const byDocument = new WeakMap<DocumentNode, Map<string | null, CompiledQuery | null>>();
  let jit: typeof import('graphql-jit') | undefined;
  return {
    async compiled({ schema, document, operationName }) {
      jit ??= await import('graphql-jit');
      let byOperation = byDocument.get(document);
      if (!byOperation) byDocument.set(document, (byOperation = new Map()));
      const name = operationName ?? null;
      if (!byOperation.has(name)) {
        const result = jit.compileQuery(schema, document, operationName ?? undefined);
        byOperation.set(name, jit.isCompiledQuery(result) ? result : null);
      }
      return byOperation.get(name)!;
    },
  };
}

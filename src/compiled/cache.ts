// One compiled form (graphql-jit) per document and operation. Yoga's parser cache hands out one document
// per query text, so each operation is compiled once. graphql-jit is loaded with the first operation that
// needs it.
import { BREAK, Kind, visit, type DocumentNode, type ExecutionArgs } from 'graphql';
import type { CompiledQuery } from 'graphql-jit';

export type CompiledOperations = {
  /** The operation compiled, or null where it is not (the executor runs it as before). */
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
        const result = safeToCompile(document) ? jit.compileQuery(schema, document, operationName ?? undefined) : null;
        byOperation.set(name, result && jit.isCompiledQuery(result) ? result : null);
      }
      return byOperation.get(name)!;
    },
  };
}

/**
 * graphql-jit writes a document's literal arguments into the code it generates, through JSON.stringify and
 * then a replacement of its marker strings (`"__MAGIC_DATE__<uuid>(…)"` becomes `new Date(…)`, with
 * whatever stands between the parentheses): a client's string literal holding a marker would run as code
 * on the server. Such a document, and one whose variables have defaults (written into the code the same
 * way, and a DateTime default reaches resolvers as a string there), is left to the executor. The values
 * checked are the decoded ones, so an escape (`\u005F`) does not hide a marker.
 */
export function safeToCompile(document: DocumentNode): boolean {
  let safe = true;
  visit(document, {
    enter(node) {
      const marked = (node.kind === Kind.STRING || node.kind === Kind.NAME || node.kind === Kind.ENUM) && node.value.includes('__MAGIC_');
      if (marked || (node.kind === Kind.VARIABLE_DEFINITION && node.defaultValue)) {
        safe = false;
        return BREAK;
      }
      return undefined;
    },
  });
  return safe;
}

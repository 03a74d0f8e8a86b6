// One compiled form (graphql-jit) per document and operation, for the documents that may be compiled.
// Yoga's parser cache hands out one document per query text, so each operation is compiled once; at most
// COMPILED_OPERATIONS are kept (the oldest documents dropped first, with theirs). graphql-jit is loaded with the first operation
// that needs it. Compiling takes the event loop (24 ms for a subscription of 140 fields), so it has a
// budget: a client that sends ever new documents gets them run interpreted once it is spent.
import { BREAK, Kind, visit, type DocumentNode, type ExecutionArgs, type SelectionSetNode } from 'graphql';
import type { CompiledQuery } from 'graphql-jit';

/** Operations kept compiled, of every document (one document may hold many: each is compiled on its own). */
const COMPILED_OPERATIONS = 200;
/** Operations of one document compiled: past them, its other operations run interpreted. */
const COMPILED_PER_DOCUMENT = 10;
/** Fields of an operation, its fragments spread out: compiling costs far more than a run of a large document. */
const MAX_COMPILED_FIELDS = 150;

/** Compiling may take this share of the event loop over time, and this much at once (ms). */
export const COMPILE_BUDGET = { shareOfLoop: 0.05, burstMs: 200 };

export type CompiledOperations = {
  /** The operation compiled, or null where it is not (the executor runs it as before). */
  compiled(args: ExecutionArgs): Promise<CompiledQuery | null>;
};

/** `now` (ms) is the clock compiling is timed with (tests pass their own). */
export function createCompiledOperations(now: () => number = () => performance.now()): CompiledOperations {
  const byDocument = new Map<DocumentNode, Map<string | null, CompiledQuery | null>>();
  let kept = 0; // operations in byDocument
  // Not kept alive here: a document parsed anew each time it comes (too large for yoga's cache) would
  // otherwise be held, up to COMPILED_OPERATIONS of the largest, for nothing.
  const unsafe = new WeakSet<DocumentNode>();
  const budget = compileBudget(now);
  let jit: typeof import('graphql-jit') | undefined;
  return {
    async compiled({ schema, document, operationName }) {
      jit ??= await import('graphql-jit');
      const name = operationName ?? null;
      const known = byDocument.get(document)?.get(name);
      if (known !== undefined) return known;
      if (unsafe.has(document) || (byDocument.get(document)?.size ?? 0) >= COMPILED_PER_DOCUMENT) return null;
      if (!safeToCompile(document)) {
        unsafe.add(document);
        return null;
      }
      if (!budget.available()) return null; // interpreted this time, compiled when there is time again
      const started = now();
      const result = jit.compileQuery(schema, document, operationName ?? undefined);
      budget.spend(now() - started);
      return remember(document, name, jit.isCompiledQuery(result) ? result : null);
    },
  };

  function remember(document: DocumentNode, name: string | null, compiled: CompiledQuery | null): CompiledQuery | null {
    let byOperation = byDocument.get(document);
    if (!byOperation) byDocument.set(document, (byOperation = new Map()));
    if (!byOperation.has(name)) kept++;
    byOperation.set(name, compiled);
    for (const [oldest, itsOperations] of byDocument) {
      if (kept <= COMPILED_OPERATIONS) break;
      if (oldest === document) continue; // the one being used stays
      byDocument.delete(oldest);
      kept -= itsOperations.size;
    }
    return compiled;
  }
}

/** Milliseconds of compiling allowed: accrued at COMPILE_BUDGET.shareOfLoop of the time that passes, up to burstMs. */
function compileBudget(now: () => number) {
  let left = COMPILE_BUDGET.burstMs;
  let since = now();
  return {
    available(): boolean {
      const time = now();
      left = Math.min(COMPILE_BUDGET.burstMs, left + (time - since) * COMPILE_BUDGET.shareOfLoop);
      since = time;
      return left > 0;
    },
    spend(ms: number): void {
      left -= ms;
    },
  };
}

/**
 * Whether a document is in the subset graphql-jit (0.8.9) compiles as the executor would run it, and safely;
 * the rest is left to the executor.
 * - A literal holding one of its marker strings: it writes literals into the code it generates and turns
 *   `"__MAGIC_DATE__<uuid>(…)"` into `new Date(…)`, so the client's text would run as code on the server.
 *   The values checked are the decoded ones, so an escape (`\u005F`) does not hide a marker.
 * - Variable defaults: written into the code the same way (and a DateTime default reaches resolvers as a string).
 * - Directives: it records `@skip`/`@include` on the document's nodes, which yoga shares between requests of
 *   the same text, and the conditions pile up (fields dropped for later operations).
 * - Aliases with `_`: it names each field's resolve info by its path joined with `_`, so `totalCount_c`
 *   and `c { totalCount }` would share one, and a resolver would read another field's selection.
 * - The name `__proto__` (an alias, a variable): it sets an object's prototype where the executor sets a key.
 * - More than MAX_COMPILED_FIELDS fields: compiling a large document costs far more than running it.
 */
export function safeToCompile(document: DocumentNode): boolean {
  let safe = true;
  visit(document, {
    enter(node) {
      const unsafe =
        ((node.kind === Kind.STRING || node.kind === Kind.NAME || node.kind === Kind.ENUM) && (node.value.includes('__MAGIC_') || node.value === '__proto__')) ||
        (node.kind === Kind.VARIABLE_DEFINITION && node.defaultValue !== undefined) ||
        node.kind === Kind.DIRECTIVE ||
        (node.kind === Kind.FIELD && node.alias?.value.includes('_'));
      if (!unsafe) return undefined;
      safe = false;
      return BREAK;
    },
  });
  return safe && fieldsSpreadOut(document, MAX_COMPILED_FIELDS) <= MAX_COMPILED_FIELDS;
}

/** The fields of the document's largest operation with its fragments spread out, counted up to just past `limit`. */
function fieldsSpreadOut(document: DocumentNode, limit: number): number {
  const fragments = new Map<string, SelectionSetNode>();
  for (const definition of document.definitions) if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition.selectionSet);
  const perFragment = new Map<string, number>(); // each fragment counted once
  const count = (set: SelectionSetNode | undefined): number => {
    let fields = 0;
    for (const selection of set?.selections ?? []) {
      if (selection.kind === Kind.FIELD) fields += 1 + count(selection.selectionSet);
      else if (selection.kind === Kind.INLINE_FRAGMENT) fields += count(selection.selectionSet);
      else {
        const name = selection.name.value;
        if (!perFragment.has(name)) {
          perFragment.set(name, limit + 1); // a cycle (validation refuses them) counts as too many
          perFragment.set(name, count(fragments.get(name)));
        }
        fields += perFragment.get(name)!;
      }
      if (fields > limit) return limit + 1;
    }
    return fields;
  };
  let largest = 0;
  for (const definition of document.definitions) if (definition.kind === Kind.OPERATION_DEFINITION) largest = Math.max(largest, count(definition.selectionSet));
  return largest;
}

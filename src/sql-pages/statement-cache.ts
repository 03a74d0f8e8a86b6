// Statements of pages (src/sql-pages/statement.ts) built once for a plan and its variables, whoever reads them:
// a page asked again (a sidebar, by any viewer) is not built again, which was 150–220 µs of a sidebar's CPU with
// the garbage it made, and its text is the same string each time (the driver finds its prepared name without
// hashing kilobytes of it). Kept by the characters they hold, not by their number, in one LRU for all clients:
// one that sends ever new variables or documents makes the others' statements be built again, and holds no
// more than the budget.
import type { GraphQLSchema } from 'graphql';
import { LRUCache } from 'lru-cache';
import type { Plan } from './plan.ts';
import type { PageStatement, StatementInputs } from './statement.ts';

/** Characters kept in all: some 10 MB (a statement holds 2.5 times its text). */
export const KEPT_STATEMENT_CHARS = 4 * 1024 * 1024;
/** The most one statement may hold to be kept: a sidebar's is some 5,000 characters with its document's. */
export const KEPT_STATEMENT_MAX_CHARS = 32 * 1024;

export type StatementFor = (plan: Plan, schema: GraphQLSchema, variables: Record<string, unknown>) => PageStatement | null;

/** `build`: statementOf, with the response's limit given. */
export function statementCache(build: (plan: Plan, inputs: StatementInputs) => PageStatement | null): StatementFor {
  const planIds = new WeakMap<Plan, number>();
  let plans = 0;
  // null: the executor answers these variables (kept too: refusing them again costs as much as building).
  const kept = new LRUCache<string, { statement: PageStatement | null }>({ max: 4096, maxSize: KEPT_STATEMENT_CHARS, maxEntrySize: KEPT_STATEMENT_MAX_CHARS });
  return (plan, schema, variables) => {
    let planId = planIds.get(plan);
    if (planId === undefined) planIds.set(plan, (planId = ++plans));
    const key = `${planId} ${JSON.stringify(variables)}`;
    const found = kept.get(key);
    if (found) return found.statement;
    const statement = build(plan, { schema, variables });
    // What it holds: its key, its text, and the whole text of its document, which the document's strings (a
    // literal among its values, a response key) are slices of. Without that text's length, a document padded
    // to a megabyte held its megabyte for every statement of it kept.
    const documentChars = plan.operation.loc?.source.body.length;
    const size = documentChars === undefined ? Infinity : key.length + (statement?.chars ?? 0) + documentChars;
    if (size <= KEPT_STATEMENT_MAX_CHARS) kept.set(key, { statement }, { size });
    return statement;
  };
}

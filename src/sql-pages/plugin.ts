// Lists of conversations and pages of messages answered by one SQL statement that builds the response's JSON
// in PostgreSQL (issue: throughput, pages): executing them field by field, the executor spent 20 to 30 µs of
// CPU per message of a page on objects and promises the statement does not make (bench/RESULTS.md, "Pages").
// Only what src/sql-pages/plan.ts plans is answered so; everything else, and anything that would answer
// with an error, goes to the executor, which stays the reference (test/sql-pages.test.ts compares the two).
import { getVariableValues, type ExecutionArgs, type ExecutionResult } from 'graphql';
import type { Plugin } from '@envelop/core';
import type { ServiceContext } from '../context.ts';
import { MAX_RESPONSE_BYTES } from '../response-limits.ts';
import { perOperation } from '../per-operation.ts';
import { planOf, type Plan } from './plan.ts';
import { statementOf } from './statement.ts';
import { statementCache, type StatementFor } from './statement-cache.ts';

type PageContext = Pick<ServiceContext, 'viewer' | 'readRows' | 'log'>;

export function useSqlPages(): Plugin {
  const planFor = perOperation(planOf);
  const statementFor = statementCache((plan, inputs) => statementOf(plan, inputs, MAX_RESPONSE_BYTES));
  return {
    onExecute({ args, executeFn, setExecuteFn }) {
      const plan = planFor(args.document, args.operationName);
      if (!plan) return;
      // Set after every other plugin's checks have let the query through (they run before it executes).
      setExecuteFn(async (args: ExecutionArgs) => (await answered(plan, args, statementFor)) ?? executeFn(args));
    },
  };
}

/** The response read in one statement, or null where the executor answers. */
async function answered(plan: Plan, args: ExecutionArgs, statementFor: StatementFor): Promise<ExecutionResult | null> {
  const context = args.contextValue as PageContext;
  const variables = getVariableValues(args.schema, plan.operation.variableDefinitions ?? [], args.variableValues ?? {});
  if (variables.errors) return null;
  const statement = statementFor(plan, args.schema, variables.coerced);
  if (!statement) return null;
  let data: string | null;
  try {
    [{ data }] = await context.readRows<{ data: string | null }>(statement.query(context.viewer), { kept: true });
  } catch (err) {
    context.log.warn({ err }, 'a page read in one statement failed; the executor answers it');
    return null;
  }
  // Null past the bytes of stored text the executor allows in a response (the JSON holds all of it, and more).
  if (data === null) return null;
  const parsed: unknown = JSON.parse(data);
  return { data: (statement.finish ? statement.finish(parsed) : parsed) as Record<string, unknown> };
}

// Queries run as compiled code (graphql-jit) when they succeed: a page of conversations or messages is
// hundreds of fields, and interpreting them was a large share of a page's CPU (bench/RESULTS.md, "Pages").
// The executor stays the reference for everything else: a query whose compiled run has any error (bad
// variables, a resolver's refusal, a limit) runs again through it, so its errors (messages, codes, paths)
// are the executor's. Queries only read, so the second run changes no data; it costs what the first did
// (a request that errs may cost its reads twice, costly fields included: at most double, never more), and
// `restart` clears what the first run counted in the request's context. Mutations are never run twice.
import { getOperationAST, type DocumentNode, type ExecutionArgs, type ExecutionResult } from 'graphql';
import type { Plugin } from '@envelop/core';
import type { CompiledOperations } from './cache.ts';

export function useCompiledQueries(operations: CompiledOperations, restart: (context: unknown) => void): Plugin {
  // A query is compiled the second time its document comes: compiling costs more than one run, so a
  // one-off query is not worth it, and a client that sends ever new query texts gets nothing compiled.
  const seen = new WeakSet<DocumentNode>();
  return {
    onExecute({ args, executeFn, setExecuteFn }) {
      if (getOperationAST(args.document, args.operationName)?.operation !== 'query') return;
      if (!seen.has(args.document)) return void seen.add(args.document);
      // Compiled when it runs: after every other plugin's checks have let it through.
      setExecuteFn(async (args: ExecutionArgs) => {
        const query = await operations.compiled(args);
        if (!query) return executeFn(args);
        const result = (await query.query(args.rootValue, args.contextValue, args.variableValues)) as ExecutionResult;
        if (!result.errors?.length) return result;
        restart(args.contextValue);
        return executeFn(args);
      });
    },
  };
}

// Queries run as compiled code (graphql-jit) when they succeed: a page of conversations or messages is
// hundreds of fields, and interpreting them was a large share of a page's CPU (bench/RESULTS.md, "Pages").
// graphql-js stays the reference for everything else: a query whose compiled run has any error (bad
// variables, a resolver's refusal, a limit) runs again through the executor, so its errors (messages,
// codes, paths) are graphql-js's. Queries only read, so the second run changes nothing but costs a second
// read; `restart` clears what the first run counted in the request's context. Mutations are never run twice.
import { getOperationAST, type DocumentNode, type ExecutionArgs, type ExecutionResult } from 'graphql';
import type { Plugin } from '@envelop/core';
import type { CompiledOperations } from './cache.ts';

export function useCompiledQueries(operations: CompiledOperations, restart: (context: unknown) => void): Plugin {
  // A query is compiled the second time its document comes: compiling costs more than one run, so a
  // one-off query is not worth it, and a client that sends ever new query texts gets nothing compiled.
  const seen = new WeakSet<DocumentNode>();
  return {
    async onExecute({ args, executeFn, setExecuteFn }) {
      if (getOperationAST(args.document, args.operationName)?.operation !== 'query') return;
      if (!seen.has(args.document)) return void seen.add(args.document);
      const query = await operations.compiled(args);
      if (!query) return;
      setExecuteFn(async (args: ExecutionArgs) => {
        const result = (await query.query(args.rootValue, args.contextValue, args.variableValues)) as ExecutionResult;
        if (!result.errors?.length) return result;
        restart(args.contextValue);
        return executeFn(args);
      });
    },
  };
}

// Subscription events run as compiled code (graphql-jit) rather than through the interpreting executor.
// Every streamed token is one event per subscriber; interpreting its selection set each time was the
// largest share of the main thread's allocations, and the garbage collection they cause is what delays
// tokens (bench/RESULTS.md). Only the events are compiled: the event stream itself is opened by
// graphql-js, whose argument handling is the reference (graphql-jit's own `subscribe` hands the
// operation's variables to the field as its arguments). Queries and mutations are left as they are.
import { createSourceEventStream, type DocumentNode, type ExecutionArgs } from 'graphql';
import type { CompiledQuery } from 'graphql-jit';
import { isAsyncIterable, makeSubscribe, type Plugin } from '@envelop/core';
import { mapAsyncIterator } from '@whatwg-node/promise-helpers';

export function useCompiledSubscriptionEvents(): Plugin {
  // Yoga's parser cache hands out one document per query text, so each is compiled once.
  const compiled = new WeakMap<DocumentNode, Map<string | null, CompiledQuery | null>>();
  // Loaded with the first subscription: a server that serves none does not hold the compiler.
  let jit: typeof import('graphql-jit') | undefined;

  function compiledEvents({ schema, document, operationName }: ExecutionArgs): CompiledQuery | null {
    const { compileQuery, isCompiledQuery } = jit!;
    let byOperation = compiled.get(document);
    if (!byOperation) compiled.set(document, (byOperation = new Map()));
    const name = operationName ?? null;
    if (!byOperation.has(name)) {
      const result = compileQuery(schema, document, operationName ?? undefined);
      byOperation.set(name, isCompiledQuery(result) ? result : null); // null: the executor runs it as before
    }
    return byOperation.get(name)!;
  }

  return {
    async onSubscribe({ args, setSubscribeFn }) {
      jit ??= await import('graphql-jit');
      const events = compiledEvents(args);
      if (!events) return;
      setSubscribeFn(
        makeSubscribe(async (args: ExecutionArgs) => {
          const stream = await createSourceEventStream(args);
          if (!isAsyncIterable(stream)) return stream; // the errors of opening it
          return mapAsyncIterator(stream, (payload) => events.query(payload, args.contextValue, args.variableValues));
        }),
      );
    },
  };
}

// Subscription events run as compiled code (graphql-jit) rather than through the interpreting executor.
// Every streamed token is one event per subscriber; interpreting its selection set each time was the
// largest share of the main thread's allocations, and the garbage collection they cause is what delays
// tokens (bench/RESULTS.md). Only the events are compiled: the event stream itself is opened by
// graphql-js, whose argument handling is the reference (graphql-jit's own `subscribe` hands the
// operation's variables to the field as its arguments).
import { createSourceEventStream, type ExecutionArgs } from 'graphql';
import { isAsyncIterable, makeSubscribe, type Plugin } from '@envelop/core';
import { mapAsyncIterator } from '@whatwg-node/promise-helpers';
import type { CompiledOperations } from './cache.ts';

export function useCompiledSubscriptionEvents(operations: CompiledOperations): Plugin {
  return {
    async onSubscribe({ args, setSubscribeFn }) {
      const events = await operations.compiled(args);
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

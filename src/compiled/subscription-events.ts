// Subscription events run as compiled code (graphql-jit) rather than through the interpreting executor.
// Every streamed token is one event per subscriber; interpreting its selection set each time was the
// largest share of the main thread's allocations, and the garbage collection they cause is what delays
// tokens (bench/RESULTS.md). Only the events are compiled: the event stream itself is opened by
// graphql-js, whose argument handling is the reference (graphql-jit's own `subscribe` hands the
// operation's variables to the field as its arguments).
import { createSourceEventStream, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { isAsyncIterable, makeSubscribe, type Plugin } from '@envelop/core';
import type { CompiledOperations } from './cache.ts';

type RunEvent = (payload: unknown) => ExecutionResult | Promise<ExecutionResult>;

export function useCompiledSubscriptionEvents(operations: CompiledOperations): Plugin {
  return {
    async onSubscribe({ args, setSubscribeFn }) {
      const events = await operations.compiled(args);
      if (!events) return;
      setSubscribeFn(
        makeSubscribe(async (args: ExecutionArgs) => {
          const stream = await createSourceEventStream(args);
          if (!isAsyncIterable(stream)) return stream; // the errors of opening it
          return new CompiledEventStream(stream, (payload) => events.query(payload, args.contextValue, args.variableValues) as ReturnType<RunEvent>);
        }),
      );
    },
  };
}

/**
 * Each event of the source run through the compiled operation. A class rather than a wrapper of closures:
 * an idle subscription holds it for life (src/watched-stream.ts).
 */
class CompiledEventStream implements AsyncIterableIterator<ExecutionResult> {
  readonly #source: AsyncIterator<unknown>;

  constructor(
    source: AsyncIterable<unknown>,
    private readonly run: RunEvent,
  ) {
    this.#source = source[Symbol.asyncIterator]();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<ExecutionResult>> {
    return this.#source.next().then((result) => (result.done ? result : this.#event(result.value)));
  }

  // What the source answers to these ends it: it carries no event to run.
  return(value?: unknown): Promise<IteratorResult<ExecutionResult>> {
    return (this.#source.return?.(value) ?? Promise.resolve({ done: true, value: undefined })) as Promise<IteratorReturnResult<undefined>>;
  }

  throw(error?: unknown): Promise<IteratorResult<ExecutionResult>> {
    return (this.#source.throw?.(error) ?? Promise.reject(error)) as Promise<IteratorReturnResult<undefined>>;
  }

  /** An event that cannot be run ends the stream, and its error is the stream's. */
  async #event(payload: unknown): Promise<IteratorResult<ExecutionResult>> {
    try {
      return { value: await this.run(payload), done: false };
    } catch (error) {
      await this.#source.return?.();
      throw error;
    }
  }
}

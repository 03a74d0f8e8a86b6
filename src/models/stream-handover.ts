// Whether a reply's provider has handed its stream over yet, known by the abort signal the reply's request
// is sent with: the one thing both the reader of the reply and the fetch under the provider see. Until the
// hand-over a provider may keep what it reads: OpenAI's keeps every chunk before the first one with output,
// to raise an error the stream may begin with. (A provider that gave fetch a signal of its own, combined from
// this one, would go unwatched: the AI SDK providers pass it on as they are given it, and the test of
// OpenAI's provider in reply-limits.test.ts fails if that changes.)
const awaiting = new WeakSet<AbortSignal>();

/** Opens a provider's stream (its `doStream`), with what its request reads meanwhile counted as kept. */
export async function beforeHandover<T>(signal: AbortSignal, open: () => PromiseLike<T>): Promise<T> {
  awaiting.add(signal);
  try {
    return await open();
  } finally {
    awaiting.delete(signal);
  }
}

/** True while the request sent with `signal` is read by a provider that has not handed its stream over. */
export const isBeforeHandover = (signal: AbortSignal | null | undefined): boolean => signal != null && awaiting.has(signal);

// Answers anyone may ask for as often as they like (/ready, /metrics): computed at most once a period, and
// shared by every request meanwhile, so that a flood of them costs the server nothing more.

/** `run`'s result, shared by every call within `ms` of the call that started it. */
export function atMostEvery<T>(ms: number, run: () => Promise<T>): () => Promise<T> {
  let last: { at: number; result: Promise<T> } | null = null;
  return () => {
    if (!last || Date.now() - last.at >= ms) last = { at: Date.now(), result: run() };
    return last.result;
  };
}

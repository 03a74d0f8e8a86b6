// The `fetch` the provider packages are given: a vendor's answer is read with a limit on each event.
//
// The SSE parser the providers use keeps an event's text until the blank line that ends it, and the
// answers' JSON bodies are read whole: a vendor that sends one line without end (or an endless run of
// `data:` lines) would grow that text until the thread, and with it the process, ran out of memory. A
// reply can never keep more than REPLY_MAX_CHARS, so an event far larger than that is refused as it comes.
import { ProviderFailure } from './reply.ts';

const LF = 10;
const CR = 13;

export function boundedFetch(maxBytes: number, fetchImpl: typeof fetch = fetch): typeof fetch {
  return async (input, init) => {
    const response = await fetchImpl(input, init);
    if (!response.body) return response;
    const { status, statusText, headers } = response;
    return new Response(response.body.pipeThrough(eventSizeLimit(maxBytes)), { status, statusText, headers });
  };
}

/** Passes the bytes on, and fails the stream once more than `maxBytes` come without a blank line (an event's end). */
export function eventSizeLimit(maxBytes: number): TransformStream<Uint8Array, Uint8Array> {
  let sinceBlankLine = 0;
  let lineEndedAtChunkEnd = false; // the last chunk ended with a line feed (a CR after it aside)
  return new TransformStream({
    transform(chunk, controller) {
      const end = lastBlankLineEnd(chunk, lineEndedAtChunkEnd);
      sinceBlankLine = end < 0 ? sinceBlankLine + chunk.length : chunk.length - end - 1;
      if (sinceBlankLine > maxBytes) {
        return controller.error(new ProviderFailure(`The model provider sent an event larger than ${maxBytes} bytes; the reply was stopped.`, { maxBytes }));
      }
      const last = chunk.length > 0 && chunk[chunk.length - 1] === CR ? chunk.length - 2 : chunk.length - 1;
      lineEndedAtChunkEnd = last >= 0 ? chunk[last] === LF : lineEndedAtChunkEnd;
      controller.enqueue(chunk);
    },
  });
}

/**
 * Where in `chunk` the last blank line ends (the index of its line feed), or -1: a line feed that follows
 * another line feed, a carriage return between them aside. Scans from the end, line feeds only: a token's
 * chunk ends with its event's blank line, so this is one step.
 */
function lastBlankLineEnd(chunk: Uint8Array, lineEndedBefore: boolean): number {
  for (let at = chunk.lastIndexOf(LF); at >= 0; at = at > 0 ? chunk.lastIndexOf(LF, at - 1) : -1) {
    let before = at - 1;
    if (before >= 0 && chunk[before] === CR) before--;
    if (before < 0 ? lineEndedBefore : chunk[before] === LF) return at;
  }
  return -1;
}

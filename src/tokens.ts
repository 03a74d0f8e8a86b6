// Token counts from a real tokenizer (o200k_base, the encoding of current OpenAI models), not characters / 4,
// in time linear in the text and without holding up the event loop.
//
// Byte-pair encoding costs time quadratic in the length of one pre-tokenized piece, and a piece can be as
// long as the text: a run of letters without spaces, a line of Chinese, a run of spaces (20,000 `x` took
// 25 s in one piece). So the text is counted in chunks of at most CHUNK_CHARS, cut where the tokenizer
// would cut anyway (before a space that follows a non-space: no piece of o200k's split pattern crosses
// such a point, so those counts are exact); only a run longer than a chunk with no such point is cut
// inside, which may count a token or two more than the whole run would. Between chunks, once a few
// milliseconds have gone by, the count yields to the event loop, so a long text delays other requests by
// one chunk at most.
import { GptEncoding } from 'gpt-tokenizer/GptEncoding';
import { cutPoint } from './text-cut.ts';

export const CHUNK_CHARS = 500;
/** How long a count runs before it lets other work in. */
const SLICE_MS = 4;
/** Pieces remembered between counts: common words are encoded once. */
const MERGE_CACHE_SIZE = 20_000;
/** Text that looks like a special token (`<|endoftext|>`) is counted as the text it is. */
const AS_PLAIN_TEXT = { disallowedSpecial: new Set<string>() };

let encoding: Promise<GptEncoding> | undefined;

/** Loads the tokenizer (its 200,000 ranks: a few hundred milliseconds of CPU) once, when first needed. */
export function loadTokenizer(): Promise<GptEncoding> {
  return (encoding ??= import('gpt-tokenizer/bpeRanks/o200k_base').then(({ default: ranks }) => {
    const api = GptEncoding.getEncodingApi('o200k_base', () => ranks);
    api.setMergeCacheSize(MERGE_CACHE_SIZE);
    return api;
  }));
}

const isWhitespace = (code: number) => code === 32 || (code >= 9 && code <= 13) || code === 0xa0 || code === 0x3000 || (code >= 0x2000 && code <= 0x200a);

/** Where the chunk that starts at `start` ends: a point where the tokenizer splits anyway, if the chunk has one. */
export function chunkEnd(text: string, start: number): number {
  const limit = start + CHUNK_CHARS;
  if (limit >= text.length) return text.length;
  for (let cut = limit; cut > start; cut--) {
    if (text.charCodeAt(cut) === 32 && !isWhitespace(text.charCodeAt(cut - 1))) return cut;
  }
  // None: cut at the limit, never between the halves of a surrogate pair.
  return cutPoint(text, limit);
}

/** The o200k token count of `text`; long texts are counted in slices between which other work runs. */
export async function countTokens(text: string): Promise<number> {
  if (text === '') return 0;
  const encoder = await loadTokenizer();
  let total = 0;
  let sliceStart = performance.now();
  for (let start = 0; start < text.length; ) {
    const end = chunkEnd(text, start);
    total += encoder.countTokens(text.slice(start, end), AS_PLAIN_TEXT);
    start = end;
    if (start < text.length && performance.now() - sliceStart > SLICE_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      sliceStart = performance.now();
    }
  }
  return total;
}

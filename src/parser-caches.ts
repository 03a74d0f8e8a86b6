// Yoga's caches of parsed documents and of parse errors, by query text, bounded by the length of the texts
// they keep rather than by their number: a document's parsed tree (and the validation result kept beside
// it) takes some 100 bytes a character of dense text, so yoga's default of 1,024 documents of any length
// held gigabytes for one client sending ever new documents of 5,000 tokens. An app's documents (a few
// thousand characters each) all stay; a text of more than CACHED_TEXT_CHARS is parsed each time it comes.
import type { DocumentNode } from 'graphql';
import { LRUCache } from 'lru-cache';

/** Characters of query text kept, of parsed documents and of texts that failed to parse. */
export const CACHED_DOCUMENT_CHARS = 512 * 1024;
const CACHED_ERROR_CHARS = 128 * 1024;
/** The longest text kept: a few larger ones (sent ever new) would otherwise push every app's document out. */
const CACHED_TEXT_CHARS = 16 * 1024;
const KEPT_FOR_MS = 3_600_000;

/** The `parserAndValidationCache` option of createYoga. */
export function parserCaches() {
  return {
    documentCache: byTextLength<DocumentNode>(CACHED_DOCUMENT_CHARS),
    errorCache: byTextLength<object>(CACHED_ERROR_CHARS) as { get(text: string): unknown; set(text: string, error: unknown): void },
    validationCache: true,
  };
}

const byTextLength = <T extends object>(maxSize: number) =>
  new LRUCache<string, T>({ max: 1024, maxSize, maxEntrySize: CACHED_TEXT_CHARS, sizeCalculation: (_value, text) => Math.max(1, text.length), ttl: KEPT_FOR_MS });

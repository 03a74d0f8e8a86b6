// A conversation's preview: the start of the content of the message that ends the branch shown.

export const PREVIEW_CHARS = 100;

/** First 100 characters (code points, so an emoji is never cut in half; PostgreSQL's left() counts alike). */
export function previewOf(content: string): string {
  let preview = '';
  let count = 0;
  for (const char of content) {
    if (count++ === PREVIEW_CHARS) break;
    preview += char;
  }
  return preview;
}

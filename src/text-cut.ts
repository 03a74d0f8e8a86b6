// Text cut to a length counted as JavaScript counts it (UTF-16 code units), never between the two halves of a
// character written as a surrogate pair: a lone half is not Unicode, strict JSON decoders refuse a response
// that holds one, and PostgreSQL stores it as U+FFFD (half an emoji turned a title's end into "�").

const isHighSurrogate = (code: number): boolean => code >= 0xd800 && code <= 0xdbff;

/** `end`, or one less where a cut there would split a surrogate pair. */
export function cutPoint(text: string, end: number): number {
  return end > 0 && isHighSurrogate(text.charCodeAt(end - 1)) ? end - 1 : end;
}

/** The start of `text`, at most `maxLength` code units of it. */
export function cutText(text: string, maxLength: number): string {
  return text.length <= maxLength ? text : text.slice(0, cutPoint(text, maxLength));
}

/** `text` for a message or a log line: whole, or its start and "…". */
export function shownText(text: string, maxLength: number): string {
  return text.length <= maxLength ? text : `${cutText(text, maxLength)}…`;
}

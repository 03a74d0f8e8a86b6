// The `fetch` the provider packages are given: a vendor's answer is read with a limit on each event.
//
// The SSE parser the providers use keeps an event's text until the blank line that ends it, and the
// answers' JSON bodies are read whole: a vendor that sends one line without end (or an endless run of
// `data:` lines) would grow that text until the thread, and with it the process, ran out of memory. A
// reply can never keep more than REPLY_MAX_CHARS, so an event far larger than that is refused as it comes.
//
// The bytes are counted where undici receives them (a dispatcher's handler): a web stream of its own in
// front of the provider's would cost each streamed token about a sixth more of the server's CPU.
import { Agent, DecoratorHandler, fetch as undiciFetch, type Dispatcher } from 'undici';
import { ProviderFailure } from './reply.ts';
import { isBeforeHandover } from './stream-handover.ts';

export function boundedFetch(maxBytes: number): typeof fetch {
  const agent = new Agent();
  // undici's own fetch takes the dispatcher (Node's global one is an older copy of it); the providers read
  // its Response as any other.
  const bounded = (input: unknown, init?: RequestInit) => {
    // Per request, over the one agent and its connections: the limits follow this request's reply.
    const signal = init?.signal;
    const beforeHandover = () => isBeforeHandover(signal);
    const dispatcher = agent.compose((dispatch) => (options, handler) => dispatch(options, new EventSizeLimit(handler, maxBytes, beforeHandover)));
    // Bytes are counted as they come: a compressed answer's events would be counted smaller than they are.
    const headers = new Headers(init?.headers);
    headers.set('accept-encoding', 'identity');
    return undiciFetch(input as Parameters<typeof undiciFetch>[0], { ...(init as object), headers, dispatcher });
  };
  return bounded as unknown as typeof fetch;
}

/** undici's handler that passes every call on to the one it wraps (its types leave the methods out). */
interface PassingHandler {
  onConnect(abort: (reason?: Error) => void, context?: object): void;
  onHeaders(statusCode: number, headers: Buffer[], resume: () => void, statusText: string): boolean;
  onData(chunk: Buffer): boolean;
}
const PassingHandler = DecoratorHandler as unknown as new (handler: Dispatcher.DispatchHandlers) => PassingHandler;

/**
 * How many times its largest event a stream may take in all. Some of what a provider is sent it gathers
 * before it emits anything (a tool call's arguments before its name comes), which no event limit sees.
 */
const STREAM_EVENTS = 64;

/**
 * How many times its largest event a stream may send before its provider hands the stream over (see
 * stream-handover.ts): what comes until then is kept, so a vendor sending only chunks without output would
 * otherwise fill memory up to the whole stream's limit. Room for the first output's own event, and more.
 */
const HANDOVER_EVENTS = 2;

/**
 * A response handler that aborts the response once an event of it passes `maxBytes`, the whole of it
 * STREAM_EVENTS times that, or what comes before the hand-over HANDOVER_EVENTS times that; an answer that
 * is not a stream (an error's body, say) is one event.
 */
class EventSizeLimit extends PassingHandler {
  readonly #events: EventSizes;
  #maxTotal: number;
  #total = 0;
  #abort: ((reason?: Error) => void) | undefined;
  readonly #beforeHandover: () => boolean;

  constructor(handler: Dispatcher.DispatchHandlers, maxBytes: number, beforeHandover: () => boolean) {
    super(handler);
    this.#events = new EventSizes(maxBytes);
    this.#maxTotal = maxBytes;
    this.#beforeHandover = beforeHandover;
  }

  onConnect(abort: (reason?: Error) => void, context?: object): void {
    this.#abort = abort;
    super.onConnect(abort, context);
  }

  onHeaders(statusCode: number, headers: Buffer[], resume: () => void, statusText: string): boolean {
    const encoding = headerValue(headers, 'content-encoding');
    if (encoding && encoding !== 'identity') {
      this.#abort?.(new ProviderFailure('The model provider sent a compressed answer, which was not asked for; the reply was stopped.'));
      return false;
    }
    // Past 1xx answers (which come before the real one), the answer is a stream or one event.
    const isStream = statusCode >= 200 && statusCode < 300 && (headerValue(headers, 'content-type') ?? '').startsWith('text/event-stream');
    this.#maxTotal = isStream ? STREAM_EVENTS * this.#events.maxBytes : this.#events.maxBytes;
    return super.onHeaders(statusCode, headers, resume, statusText);
  }

  onData(chunk: Buffer): boolean {
    this.#total += chunk.length;
    if (!this.#events.fits(chunk)) return this.#stop(`The model provider sent an event larger than ${this.#events.maxBytes} bytes; the reply was stopped.`);
    if (this.#total > this.#maxTotal) return this.#stop(`The model provider sent an answer larger than ${this.#maxTotal} bytes; the reply was stopped.`);
    const maxKept = HANDOVER_EVENTS * this.#events.maxBytes;
    if (this.#total > maxKept && this.#beforeHandover()) return this.#stop(`The model provider sent more than ${maxKept} bytes before any of the reply; the reply was stopped.`);
    return super.onData(chunk);
  }

  #stop(description: string): false {
    this.#abort?.(new ProviderFailure(description, { maxEventBytes: this.#events.maxBytes, maxTotalBytes: this.#maxTotal }));
    return false;
  }
}

/** A header's value (trimmed, lower case) from raw response headers (name, value, name, value…). */
function headerValue(headers: Buffer[], name: string): string | undefined {
  for (let i = 0; i + 1 < headers.length; i += 2) {
    if (headers[i].toString('latin1').toLowerCase() === name) return headers[i + 1].toString('latin1').trim().toLowerCase();
  }
  return undefined;
}

const LF = 10;
const CR = 13;

/**
 * Follows a stream's events (the bytes between blank lines; lines end in LF, CRLF or a bare CR, as SSE
 * allows) chunk by chunk. A chunk is checked as it comes: an event may pass the limit by less than one
 * chunk (undici's are at most 64 KiB) before it is refused. One pass over each byte: a token's chunk is
 * a few hundred bytes.
 */
export class EventSizes {
  #sinceBlankLine = 0;
  #atLineStart = true; // the last byte ended a line (or nothing has come yet)
  #afterCR = false; // the last byte was a CR: an LF right after it ends no further line

  constructor(readonly maxBytes: number) {}

  /** Takes the next chunk: false once the event it is in has passed `maxBytes`. */
  fits(chunk: Uint8Array): boolean {
    let since = this.#sinceBlankLine;
    let atLineStart = this.#atLineStart;
    let afterCR = this.#afterCR;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i];
      if (byte === LF && afterCR) {
        afterCR = false;
        since++;
      } else if (byte === LF || byte === CR) {
        // A line ending where a line starts ends an empty line: the event is over.
        since = atLineStart ? 0 : since + 1;
        atLineStart = true;
        afterCR = byte === CR;
      } else {
        since++;
        atLineStart = false;
        afterCR = false;
      }
    }
    this.#sinceBlankLine = since;
    this.#atLineStart = atLineStart;
    this.#afterCR = afterCR;
    return since <= this.maxBytes;
  }
}

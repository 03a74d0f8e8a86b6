// Replies as they stream: the text of each STREAMING message, built from its numbered events. Kept beside
// the Apollo cache (whose copy of a message is what the server has stored) and in session storage, so
// that a dropped connection or a reload resumes from the last sequence number seen, with no text twice.
import type { ApolloClient } from '@apollo/client';
import { MESSAGE_STREAM } from './operations';

export type StreamedReply = {
  text: string;
  reasoning: string;
  /** Tool calls whose arguments are being written: id → name and arguments so far. */
  calls: Record<string, { name: string; arguments: string }>;
  /** The last event applied. */
  after: number;
};

const EMPTY: StreamedReply = { text: '', reasoning: '', calls: {}, after: -1 };
const storageKey = (messageId: string) => `chat.stream.${messageId}`;
/** How often a failing subscription to a reply is tried again before the stored copy is left to show. */
const MAX_FAILURES = 4;
/** A reply is saved for a reload at most this often (each save writes all of it). */
const SAVE_EVERY_MS = 500;

/** Saves what a reply has streamed, for a reload to resume from; a full storage only loses the shortcut. */
function save(messageId: string, reply: StreamedReply): void {
  try {
    sessionStorage.setItem(storageKey(messageId), JSON.stringify(reply));
  } catch {
    sessionStorage.removeItem(storageKey(messageId)); // a reload then replays the reply from its start
  }
}

export class ReplyStreams {
  readonly #client: ApolloClient;
  readonly #replies = new Map<string, StreamedReply>();
  readonly #following = new Map<string, { unsubscribe(): void }>();
  readonly #listeners = new Set<() => void>();
  readonly #lastSaved = new Map<string, number>();

  constructor(client: ApolloClient) {
    this.#client = client;
  }

  /** For useSyncExternalStore. */
  subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  get(messageId: string): StreamedReply | undefined {
    return this.#replies.get(messageId);
  }

  /** Follows a STREAMING message until its terminal event (once, however often it is asked). */
  follow(messageId: string): void {
    if (this.#following.has(messageId)) return;
    const saved = sessionStorage.getItem(storageKey(messageId));
    this.#set(messageId, saved ? (JSON.parse(saved) as StreamedReply) : EMPTY);
    this.#subscribe(messageId, 0);
  }

  /**
   * Subscribes from the last event applied (all of them when none was). The socket's own re-subscription
   * after a drop repeats these variables: events already applied come again and are skipped by their
   * numbers. A subscription that fails is tried again a few times, later each time, from where it was.
   */
  #subscribe(messageId: string, failures: number): void {
    const { after } = this.#replies.get(messageId)!;
    const subscription = this.#client.subscribe({ query: MESSAGE_STREAM, variables: { messageId, after: after < 0 ? undefined : after } }).subscribe({
      next: ({ data }) => data && this.#apply(messageId, data.messageStream),
      error: () => {
        if (failures >= MAX_FAILURES || !this.#following.has(messageId)) return this.#end(messageId);
        setTimeout(() => this.#following.has(messageId) && this.#subscribe(messageId, failures + 1), 1000 * 2 ** failures);
      },
      complete: () => this.#end(messageId),
    });
    this.#following.set(messageId, subscription);
  }

  #apply(messageId: string, event: { __typename?: string; sequenceNumber: number } & Record<string, any>): void {
    const reply = this.#replies.get(messageId);
    if (!reply || event.sequenceNumber <= reply.after) return;
    const next: StreamedReply = { ...reply, after: event.sequenceNumber };
    switch (event.__typename) {
      case 'MessageStarted':
        Object.assign(next, { text: '', reasoning: '', calls: {} });
        break;
      case 'MessageDelta':
        next.text += event.delta;
        break;
      case 'MessageReasoningDelta':
        next.reasoning += event.delta;
        break;
      case 'MessageToolCallDelta': {
        const call = reply.calls[event.toolCallId] ?? { name: event.name, arguments: '' };
        next.calls = { ...reply.calls, [event.toolCallId]: { name: call.name, arguments: call.arguments + event.argumentsDelta } };
        break;
      }
      case 'MessageCompleted':
      case 'MessageFailed':
        // The terminal event carries the whole message, now in the cache: the stored copy takes over.
        this.#end(messageId);
        return;
    }
    this.#set(messageId, next);
    const now = Date.now();
    if (now - (this.#lastSaved.get(messageId) ?? 0) >= SAVE_EVERY_MS) {
      this.#lastSaved.set(messageId, now);
      save(messageId, next);
    }
  }

  #set(messageId: string, reply: StreamedReply): void {
    this.#replies.set(messageId, reply);
    for (const listener of this.#listeners) listener();
  }

  #end(messageId: string): void {
    this.#following.get(messageId)?.unsubscribe();
    this.#following.delete(messageId);
    this.#replies.delete(messageId);
    this.#lastSaved.delete(messageId);
    sessionStorage.removeItem(storageKey(messageId));
    for (const listener of this.#listeners) listener();
  }
}

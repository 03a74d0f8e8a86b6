// The event log of generations: append numbered events, read from any number, follow live.
// One interface, two stores: in process (here) and Redis Streams (for several instances).
import type { StreamEvent } from './events.ts';

export interface GenerationEventLog {
  /** Starts the log of a message with its MessageStarted event (number 0). */
  open(messageId: string): Promise<void>;
  /** Appends the next event; the generation is the only writer and numbers its events 1, 2, 3, … */
  append(messageId: string, event: StreamEvent): Promise<void>;
  /**
   * Events numbered above `after`: first those already logged, then live ones, ending with the terminal
   * event. Null when the message has no log here (never had one, or its retention ran out).
   */
  read(messageId: string, after: number): Promise<AsyncIterableIterator<StreamEvent> | null>;
  /** The highest number logged so far, or null without a log. */
  lastSequenceNumber(messageId: string): Promise<number | null>;
  /** Events logged here and not yet in the shared store (Redis); 0 for a log in process. */
  backlog(): number;
  close(): Promise<void>;
}

// The stream of one assistant message: its numbered events above a number, replayed then live, from the
// event log of whichever instance generates it; the database stands in where the log is gone.
import type { StreamDeps } from '../services.ts';
import { findOwnMessage } from '../access.ts';
import { invalidField } from '../errors.ts';
import { isTerminal, type StreamEvent } from '../streams/events.ts';
import { terminalEventOf } from './finish.ts';

export type MessageStreamPayload = { messageId: string; event: StreamEvent };

/** How often a subscriber to a message whose log is not (yet) here looks at the database again. */
const POLL_MS = 250;
/**
 * A generation that finished this recently may still be having its log copied (after a Redis outage, say):
 * its subscribers wait for the log rather than jump to the terminal event.
 */
const LOG_SETTLE_MS = 15_000;

/**
 * The numbered events of an assistant message above `after`: replayed, then live, ending after the
 * terminal event. Without a log (retention ran out, or the message was never generated), the terminal
 * event alone, built from the database, which carries the whole message.
 */
export async function openMessageStream(deps: StreamDeps, messageId: string, after: number): Promise<AsyncIterable<MessageStreamPayload>> {
  const message = await findOwnMessage(deps, messageId);
  if (message.role !== 'ASSISTANT') throw invalidField('messageId', 'only assistant messages have a stream');
  return followMessage(deps, messageId, after);
}

/** openMessageStream for an assistant message known to be the viewer's: the one `chat` has just created. */
export function followMessage({ eventLog, prisma, generation }: Omit<StreamDeps, 'viewer'>, messageId: string, after: number): AsyncIterable<MessageStreamPayload> {
  const payload = (event: StreamEvent): MessageStreamPayload => ({ messageId, event });

  return (async function* () {
    const release = generation.follow();
    let cursor = after;
    try {
      for (;;) {
        const events = await eventLog.read(messageId, cursor);
        if (events) {
          try {
            for await (const event of events) {
              yield payload(event);
              cursor = event.sequenceNumber;
              if (isTerminal(event)) return;
            }
          } finally {
            await events.return?.();
          }
        }
        // No log, or it ended before its terminal event: the database tells whether the message is done.
        const current = await prisma.message.findUnique({ where: { id: messageId } });
        if (!current) return; // purged meanwhile
        if (current.status !== 'STREAMING') {
          const terminal = terminalEventOf(current);
          if (terminal.sequenceNumber <= cursor) return; // nothing after what this subscriber has
          // Mid-stream when the log went missing (a Redis restart, say): its writer may still be copying it
          // back, so wait a little rather than skip to the end; a log that expired gives the terminal alone.
          const midStream = cursor > after && current.completedAt !== null && Date.now() - current.completedAt.getTime() < LOG_SETTLE_MS;
          if (!midStream) {
            yield payload(terminal);
            return;
          }
        }
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
    } finally {
      release();
    }
  })();
}

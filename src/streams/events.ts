// The numbered events of one generation: 0 MessageStarted, then text, reasoning and tool-call events in
// the order the model produced them, then one terminal event.
export type FinishedStatus = 'COMPLETED' | 'CANCELLED' | 'INTERRUPTED';

export type ToolCallEvent = { id: string; name: string; arguments: string };

export type StreamEvent =
  | { type: 'started'; sequenceNumber: 0 }
  | { type: 'delta'; sequenceNumber: number; delta: string }
  | { type: 'reasoning'; sequenceNumber: number; delta: string }
  | { type: 'toolCallDelta'; sequenceNumber: number; toolCallId: string; name: string; argumentsDelta: string }
  | { type: 'toolCall'; sequenceNumber: number; toolCall: ToolCallEvent }
  | { type: 'completed'; sequenceNumber: number; status: FinishedStatus }
  | { type: 'failed'; sequenceNumber: number; code: string; error: string };

export const isTerminal = (event: StreamEvent) => event.type === 'completed' || event.type === 'failed';

/**
 * About what an event holds beyond its texts while the event log keeps it, with room to spare: in process an
 * object of some 60 bytes and its string's header; in Redis an entry of some 16 bytes beside a delta's text,
 * 26 beside a tool call delta's (redis-entries.ts), while the instance writing it holds the object too until
 * the reply ends. A delta of a few characters thus takes some 30 times them.
 */
export const EVENT_BYTES = 128;

/** About what an event takes in the event log (RATE_LIMIT_STREAMED_MB_PER_HOUR counts it). */
export function loggedBytes(event: StreamEvent): number {
  switch (event.type) {
    case 'delta':
    case 'reasoning':
      return EVENT_BYTES + Buffer.byteLength(event.delta);
    case 'toolCallDelta':
      return EVENT_BYTES + Buffer.byteLength(event.argumentsDelta) + Buffer.byteLength(event.name) + Buffer.byteLength(event.toolCallId);
    case 'toolCall':
      return EVENT_BYTES + Buffer.byteLength(event.toolCall.arguments) + Buffer.byteLength(event.toolCall.name) + Buffer.byteLength(event.toolCall.id);
    default:
      return EVENT_BYTES;
  }
}

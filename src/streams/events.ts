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

// The numbered events of one generation: 0 MessageStarted, 1… MessageDelta, then one terminal event.
export type FinishedStatus = 'COMPLETED' | 'CANCELLED' | 'INTERRUPTED';

export type StreamEvent =
  | { type: 'started'; sequenceNumber: 0 }
  | { type: 'delta'; sequenceNumber: number; delta: string }
  | { type: 'completed'; sequenceNumber: number; status: FinishedStatus }
  | { type: 'failed'; sequenceNumber: number; code: string; error: string };

export const isTerminal = (event: StreamEvent) => event.type === 'completed' || event.type === 'failed';

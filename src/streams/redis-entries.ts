// How an event is written as the fields of its Redis stream entry. Its number is the entry's id, so the
// fields carry the rest alone, and the events a reply is mostly made of carry their texts bare: a delta of
// four characters takes some 20 bytes of Redis' memory where its JSON took 69. The rarer events (started,
// a whole tool call, the end) are JSON under `e`, as every event was before; entries of that form are read
// the same way.
import type { StreamEvent } from './events.ts';

export function entryFields(event: StreamEvent): string[] {
  switch (event.type) {
    case 'delta':
      if (event.delta.isWellFormed()) return ['t', event.delta];
      break;
    case 'reasoning':
      if (event.delta.isWellFormed()) return ['r', event.delta];
      break;
    case 'toolCallDelta':
      if (event.toolCallId.isWellFormed() && event.name.isWellFormed() && event.argumentsDelta.isWellFormed()) {
        return ['i', event.toolCallId, 'n', event.name, 'a', event.argumentsDelta];
      }
      break;
  }
  // Also a text cut inside a character (half of a surrogate pair, which a delta may end or start with): Redis
  // keeps bytes, and that half has none in UTF-8 (it came back as U+FFFD); JSON escapes it.
  return ['e', JSON.stringify(event)];
}

export function eventOfEntry(sequenceNumber: number, fields: string[]): StreamEvent {
  switch (fields[0]) {
    case 't':
      return { type: 'delta', sequenceNumber, delta: fields[1] };
    case 'r':
      return { type: 'reasoning', sequenceNumber, delta: fields[1] };
    case 'i':
      return { type: 'toolCallDelta', sequenceNumber, toolCallId: fields[1], name: fields[3], argumentsDelta: fields[5] };
    default:
      return JSON.parse(fields[1]) as StreamEvent;
  }
}

// The limit on each event of a vendor's answer (src/models/bounded-fetch.ts): an event is what comes
// between blank lines, with LF, CRLF or bare CR line endings, however its bytes are split into chunks.
// (test/reply-limits.test.ts reads a vendor's endless event through the provider threads.)
import { describe, expect, it } from 'vitest';
import { EventSizes } from '../src/models/bounded-fetch.ts';

/** Whether every chunk fits, in order. */
function fitsAll(maxBytes: number, chunks: string[]): boolean {
  const events = new EventSizes(maxBytes);
  return chunks.every((chunk) => events.fits(new TextEncoder().encode(chunk)));
}

describe('EventSizes', () => {
  it('takes any number of events within the limit, whatever their total, with LF, CRLF or CR line endings', () => {
    const events = Array.from({ length: 100 }, (_, i) => `data: {"n":${i},"pad":"${'x'.repeat(30)}"}\n\n`);
    expect(fitsAll(64, events)).toBe(true);
    expect(fitsAll(64, events.map((event) => event.replaceAll('\n', '\r\n')))).toBe(true);
    expect(fitsAll(64, events.map((event) => event.replaceAll('\n', '\r')))).toBe(true);
    expect(fitsAll(64, [events.join('')])).toBe(true); // many events in one chunk
  });

  it("finds an event's end split across chunks", () => {
    const event = `data: ${'x'.repeat(40)}`;
    for (const [first, second] of [['\n', '\n'], ['\r\n', '\r\n'], ['\r\n\r', '\n'], ['\n\r', '\n'], ['\r', '\r'], ['\n', '\r']]) {
      expect(fitsAll(64, Array.from({ length: 20 }, () => [event + first, second]).flat())).toBe(true);
    }
  });

  it('refuses a line without end, and lines of one event without the blank line between events, past the limit', () => {
    expect(fitsAll(100, ['data: "', 'x'.repeat(60), 'x'.repeat(60)])).toBe(false);
    expect(fitsAll(100, Array.from({ length: 10 }, () => 'data: xxxxxxxxxxxxxxxxxx\n'))).toBe(false);
    expect(fitsAll(100, ['data: ok\n\n', 'x'.repeat(101)])).toBe(false);
    expect(fitsAll(100, ['data: ok\n\n', 'x'.repeat(100)])).toBe(true);
  });

  it('takes the LF of a CRLF split across chunks for the end of one line, not a blank line', () => {
    expect(fitsAll(100, Array.from({ length: 10 }, () => ['data: xxxxxxxxxxxxxxxxxx\r', '\n']).flat())).toBe(false);
    expect(fitsAll(100, Array.from({ length: 10 }, () => ['data: xxxxxxxxxxxxxxxxxx\r', '\ndata: y\r\n\r\n']).flat())).toBe(true);
  });
});

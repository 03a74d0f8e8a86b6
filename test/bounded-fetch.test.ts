// The limit on each event of a vendor's answer (src/models/bounded-fetch.ts): an event is what comes
// between blank lines, whichever line endings the vendor uses and however its bytes are split into chunks.
import { describe, expect, it } from 'vitest';
import { eventSizeLimit } from '../src/models/bounded-fetch.ts';

const bytes = (text: string) => new TextEncoder().encode(text);

/** Passes `chunks` through the limit; what came out, or the error it failed with. */
async function through(maxBytes: number, chunks: string[]): Promise<{ out: string } | { error: string }> {
  const source = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(bytes(chunk));
      controller.close();
    },
  });
  try {
    return { out: await new Response(source.pipeThrough(eventSizeLimit(maxBytes))).text() };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

describe('eventSizeLimit', () => {
  it('passes any number of events within the limit, whatever their total, with LF or CRLF line endings', async () => {
    const events = Array.from({ length: 100 }, (_, i) => `data: {"n":${i},"pad":"${'x'.repeat(30)}"}\n\n`);
    expect(await through(64, events)).toEqual({ out: events.join('') });
    const crlf = events.map((event) => event.replaceAll('\n', '\r\n'));
    expect(await through(64, crlf)).toEqual({ out: crlf.join('') });
  });

  it('finds an event\'s end split across chunks', async () => {
    const event = `data: ${'x'.repeat(40)}`;
    for (const split of [['\n', '\n'], ['\r\n', '\r\n'], ['\r\n\r', '\n'], ['\n\r', '\n']]) {
      const chunks = Array.from({ length: 20 }, () => [event + split[0], split[1]]).flat();
      expect(await through(64, chunks)).toEqual({ out: chunks.join('') });
    }
  });

  it('fails a line without end, and lines of one event without the blank line between events, past the limit', async () => {
    const failure = { error: 'The model provider sent an event larger than 100 bytes; the reply was stopped.' };
    expect(await through(100, ['data: "', 'x'.repeat(60), 'x'.repeat(60)])).toEqual(failure);
    expect(await through(100, Array.from({ length: 10 }, () => 'data: xxxxxxxxxxxxxxxxxx\n'))).toEqual(failure);
    expect(await through(100, ['data: ok\n\n', 'x'.repeat(101)])).toEqual(failure);
  });
});

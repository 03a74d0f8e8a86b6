import { describe, expect, it } from 'vitest';
import { createMemoryEventLog } from '../src/streams/memory-event-log.ts';

describe('the in-process event log', () => {
  it("takes the end of a reply whose log it never had (recovered after a restart) as nothing to do; anything else without an open log is an error", async () => {
    const log = createMemoryEventLog({ retentionMs: 60_000 });
    await expect(log.append('before-restart', { type: 'completed', sequenceNumber: 7, status: 'INTERRUPTED' })).resolves.toBeUndefined();
    expect(await log.read('before-restart', -1)).toBeNull();
    await expect(log.append('never-opened', { type: 'delta', sequenceNumber: 1, delta: 'x' })).rejects.toThrow('No open log');
    await log.open('m');
    await log.append('m', { type: 'completed', sequenceNumber: 1, status: 'COMPLETED' });
    await expect(log.append('m', { type: 'completed', sequenceNumber: 2, status: 'CANCELLED' })).rejects.toThrow('No open log');
    await log.close();
  });
});

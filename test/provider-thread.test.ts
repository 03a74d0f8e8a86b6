// The provider thread's faults: a thread that dies fails the replies it was reading instead of leaving
// them waiting forever, and the next reply gets a new thread.
import { describe, expect, it } from 'vitest';
import { createProviderStreams } from '../src/models/provider-streams.ts';
import { ProviderFailure } from '../src/models/reply.ts';
import { createModelRegistry } from '../src/models/registry.ts';
import { createLogger } from '../src/logger.ts';

const prompt = [{ role: 'user' as const, content: [{ type: 'text' as const, text: 'hello there' }] }];
const log = createLogger({ logLevel: 'silent' });

async function readAll(stream: AsyncIterable<{ text: string }>): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += chunk.text;
  return text;
}

describe('the provider thread', () => {
  it('reads a reply on the thread', async () => {
    const config = { echoDelayMs: 0, providerThread: true };
    const providers = createProviderStreams(createModelRegistry(config), config, log);
    try {
      expect(await readAll(providers.stream('builtin:echo', prompt, new AbortController().signal))).toBe('hello there');
    } finally {
      await providers.close();
    }
  });

  it('fails the replies of a thread that dies, each time, rather than leaving them waiting', async () => {
    // The main thread's registry is fine; the thread's copy of the configuration makes it throw at start.
    const config = { echoDelayMs: 0, providerThread: true, defaultModel: 'nowhere:model' };
    const providers = createProviderStreams(createModelRegistry({ echoDelayMs: 0 }), config, log);
    try {
      for (let attempt = 0; attempt < 2; attempt++) {
        const failure = await readAll(providers.stream('builtin:echo', prompt, new AbortController().signal)).catch((error) => error);
        expect(failure).toBeInstanceOf(ProviderFailure);
        expect(failure.description).toMatch(/model provider failed/);
      }
    } finally {
      await providers.close();
    }
  });
});

// The provider thread: reads model replies (HTTP, SSE parsing, validation of each chunk) off the event loop
// that serves clients, and posts their text to the main thread. Started by provider-streams.ts.
import { parentPort, workerData } from 'node:worker_threads';
import type { ModelsConfig } from '../config.ts';
import { createModelRegistry } from './registry.ts';
import { readReply, toProviderFailure } from './reply.ts';
import type { FromProviderThread, ToProviderThread } from './provider-streams.ts';

const port = parentPort!;
const models = createModelRegistry(workerData.models as ModelsConfig);
const running = new Map<number, AbortController>();
const post = (message: FromProviderThread) => port.postMessage(message);

port.on('message', (message: ToProviderThread) => {
  if (message.type === 'abort') running.get(message.id)?.abort(new Error('generation stopped'));
  else void read(message);
});

async function read({ id, modelId, prompt }: Extract<ToProviderThread, { type: 'start' }>): Promise<void> {
  const controller = new AbortController();
  running.set(id, controller);
  try {
    for await (const chunk of readReply(models.languageModel(modelId), prompt, controller.signal)) post({ id, chunk });
    post({ id, end: true });
  } catch (error) {
    // After an abort the main thread has stopped listening; the message is dropped there.
    const { description, details } = toProviderFailure(error);
    post({ id, failure: { description, details } });
  } finally {
    running.delete(id);
  }
}

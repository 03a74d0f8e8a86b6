// A provider thread: reads model replies (HTTP, SSE parsing, validation of each chunk) off the event loop
// that serves clients, and posts their text to the main thread. Started by provider-streams.ts.
import { parentPort, workerData } from 'node:worker_threads';
import type { ModelsConfig } from '../config.ts';
import { createModelRegistry } from './registry.ts';
import { readReply, toProviderFailure } from './reply.ts';
import type { FromProviderThread, ToProviderThread } from './provider-streams.ts';

const port = parentPort!;
const models = createModelRegistry(workerData.models as ModelsConfig);
const running = new Map<number, AbortController>();

// What the replies produced while the thread handled one batch of socket reads goes out as one message:
// a chunk waits only for the end of that batch, and under load the main thread receives a few large
// messages instead of one per token.
const outbox: FromProviderThread[] = [];
const post = (message: FromProviderThread) => {
  if (outbox.push(message) === 1) setImmediate(() => port.postMessage(outbox.splice(0)));
};

port.on('message', (message: ToProviderThread) => {
  if (message.type === 'abort') running.get(message.id)?.abort(new Error('generation stopped'));
  else void read(message);
});

async function read({ id, modelId, request }: Extract<ToProviderThread, { type: 'start' }>): Promise<void> {
  const controller = new AbortController();
  running.set(id, controller);
  try {
    // No text yet, but the request is on its way: the wait for this thread to start is not the provider's silence.
    post({ id, part: { kind: 'text', text: '' } });
    for await (const part of readReply(models.languageModel(modelId), request, controller.signal)) post({ id, part });
    post({ id, end: true });
  } catch (error) {
    // After an abort the main thread has stopped listening; the message is dropped there.
    const { description, details, kind } = toProviderFailure(error);
    post({ id, failure: { description, details, kind } });
  } finally {
    running.delete(id);
  }
}

// Where model replies are read. By default on one provider thread: the provider packages' per-chunk work
// (web streams, SSE parsing, schema validation) is the largest cost of a streamed token, and off the main
// thread it no longer delays the delivery of other streams' tokens to their subscribers. With the thread
// off, replies are read on the main thread, as one process with no worker.
import { Worker } from 'node:worker_threads';
import type { LanguageModelV3Prompt } from '@ai-sdk/provider';
import type { ModelsConfig } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { ModelRegistry } from './registry.ts';
import { ProviderFailure, readReply, type ReplyChunk } from './reply.ts';

export type ProviderStreams = {
  /** The reply of `modelId` to `prompt`; aborting `signal` ends it at once and aborts the upstream request. */
  stream(modelId: string, prompt: LanguageModelV3Prompt, signal: AbortSignal): AsyncIterable<ReplyChunk>;
  close(): Promise<void>;
};

export type ToProviderThread = { type: 'start'; id: number; modelId: string; prompt: LanguageModelV3Prompt } | { type: 'abort'; id: number };
export type FromProviderThread =
  | { id: number; chunk: ReplyChunk }
  | { id: number; end: true }
  | { id: number; failure: { description: string; details: Record<string, unknown> } };

export function createProviderStreams(models: ModelRegistry, config: ModelsConfig, log: Logger): ProviderStreams {
  if (!config.providerThread) return { stream: (modelId, prompt, signal) => readReply(models.languageModel(modelId), prompt, signal), close: async () => {} };
  return new ProviderThread(config, log);
}

class ProviderThread implements ProviderStreams {
  readonly #config: ModelsConfig;
  readonly #log: Logger;
  readonly #replies = new Map<number, Reply>();
  #worker: Worker | null = null;
  #nextId = 1;
  #closed = false;

  constructor(config: ModelsConfig, log: Logger) {
    this.#config = config;
    this.#log = log;
    this.#start(); // now, so that the first generation does not wait for the thread to load
  }

  stream(modelId: string, prompt: LanguageModelV3Prompt, signal: AbortSignal): AsyncIterable<ReplyChunk> {
    const id = this.#nextId++;
    const worker = this.#worker ?? this.#start();
    const reply = new Reply(() => {
      if (this.#replies.delete(id)) worker.postMessage({ type: 'abort', id } satisfies ToProviderThread);
    });
    if (signal.aborted) reply.fail(signal.reason);
    else {
      this.#replies.set(id, reply);
      signal.addEventListener('abort', () => reply.fail(signal.reason), { once: true });
      worker.postMessage({ type: 'start', id, modelId, prompt } satisfies ToProviderThread);
    }
    return reply;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#worker?.terminate();
  }

  #start(): Worker {
    const worker = new Worker(new URL('./provider-thread-entry.mjs', import.meta.url), { workerData: { models: this.#config } });
    worker.unref(); // it never keeps the process alive by itself
    worker.on('message', (message: FromProviderThread) => {
      const reply = this.#replies.get(message.id);
      if (!reply) return; // stopped on this side already
      if ('chunk' in message) return reply.push(message.chunk);
      this.#replies.delete(message.id);
      if ('end' in message) reply.end();
      else reply.fail(new ProviderFailure(message.failure.description, message.failure.details));
    });
    // 'error' is followed by 'exit': the first of them, for the current thread only, fails its replies.
    const lost = (why: string) => (err?: unknown) => {
      if (this.#worker !== worker) return;
      this.#worker = null; // the next stream starts a new thread
      if (this.#closed) return;
      this.#log.error({ err, why }, 'provider thread stopped');
      for (const reply of this.#replies.values()) reply.fail(new ProviderFailure('The connection to the model provider failed before the reply was complete.', { why }));
      this.#replies.clear();
    };
    worker.on('error', lost('error'));
    worker.on('exit', lost('exit'));
    this.#worker = worker;
    return worker;
  }
}

/**
 * One reply as the provider thread sends it. Chunks that pile up while the reader is busy are handed
 * over as one, so a busy server delivers several tokens per event instead of falling further behind.
 */
class Reply implements AsyncIterableIterator<ReplyChunk> {
  readonly #queue: ReplyChunk[] = [];
  #ended = false;
  #failure: { error: unknown } | null = null;
  #wake: (() => void) | null = null;
  readonly #stop: () => void;

  constructor(stop: () => void) {
    this.#stop = stop;
  }

  push(chunk: ReplyChunk): void {
    this.#queue.push(chunk);
    this.#wakeReader();
  }

  end(): void {
    this.#ended = true;
    this.#wakeReader();
  }

  /** Ends the reply with `error`, after the text already queued; stops the reading on the thread. */
  fail(error: unknown): void {
    if (this.#failure || this.#ended) return;
    this.#failure = { error };
    this.#stop();
    this.#wakeReader();
  }

  async next(): Promise<IteratorResult<ReplyChunk>> {
    for (;;) {
      if (this.#queue.length > 0) return { done: false, value: merge(this.#queue.splice(0)) };
      if (this.#failure) throw this.#failure.error;
      if (this.#ended) return { done: true, value: undefined };
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  async return(): Promise<IteratorResult<ReplyChunk>> {
    if (!this.#ended) this.#stop();
    this.#ended = true;
    return { done: true, value: undefined };
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  #wakeReader() {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }
}

function merge(chunks: ReplyChunk[]): ReplyChunk {
  if (chunks.length === 1) return chunks[0];
  const merged: ReplyChunk = { text: '' };
  for (const chunk of chunks) {
    merged.text += chunk.text;
    if (chunk.usage) merged.usage = chunk.usage;
  }
  return merged;
}

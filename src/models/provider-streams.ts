// Where model replies are read. By default on provider threads: the provider packages' per-chunk work
// (web streams, SSE parsing, schema validation) is the largest cost of a streamed token, and off the main
// thread it no longer delays the delivery of other streams' tokens to their subscribers. Two threads
// rather than one: each pauses for garbage collection about every 100 ms at 100 streams, and a pause
// delays only the streams of its own thread. With no thread, replies are read on the main thread.
import { Worker } from 'node:worker_threads';
import type { ModelsConfig } from '../config.ts';
import type { Logger } from '../logger.ts';
import { ECHO_MODEL_ID, type ModelRegistry } from './registry.ts';
import { ProviderFailure, readReply, type ProviderFailureKind, type ReplyPart, type ReplyRequest } from './reply.ts';
import { ReplyQueue } from './reply-queue.ts';
import { outsideAnyRequest } from '../observability/request-context.ts';

/** The old generation's limit of a provider thread: far above what its replies need (a few kB each). */
const THREAD_HEAP_MB = 512;

export type ProviderStreams = {
  /** The reply of `modelId` to `request`, in batches of parts; aborting `signal` ends it at once and aborts the upstream request. */
  stream(modelId: string, request: ReplyRequest, signal: AbortSignal): AsyncIterable<ReplyPart[]>;
  close(): Promise<void>;
};

export type ToProviderThread = { type: 'start'; id: number; modelId: string; request: ReplyRequest } | { type: 'abort'; id: number };
/** The thread posts these in batches: an array per message. */
export type FromProviderThread =
  | { id: number; part: ReplyPart }
  | { id: number; end: true }
  | { id: number; failure: { description: string; details: Record<string, unknown>; kind: ProviderFailureKind } };

/**
 * Compiled (dist/), the thread runs provider-thread.js as it is; from the TypeScript sources (tests, `npm run
 * dev`), an entry that registers the TypeScript loader first, which threads do not inherit.
 */
const PROVIDER_THREAD_ENTRY = new URL(import.meta.url.endsWith('.js') ? './provider-thread.js' : './provider-thread-entry.mjs', import.meta.url);

export function createProviderStreams(models: ModelRegistry, config: ModelsConfig, log: Logger): ProviderStreams {
  const onMainThread: ProviderStreams['stream'] = (modelId, request, signal) => readOnMainThread(models, modelId, request, signal);
  // builtin:echo does no I/O and no parsing, so a thread would only add a hop: without a provider that
  // does (the zero-configuration default), no thread is started at all.
  const networkProvider = Boolean(config.openai || config.anthropic || config.compatible);
  if (config.providerThreads === 0 || !networkProvider) return { stream: onMainThread, close: async () => {} };
  const threads = Array.from({ length: config.providerThreads }, () => new ProviderThread(config, log));
  return {
    stream: (modelId, request, signal) => {
      if (modelId === ECHO_MODEL_ID) return onMainThread(modelId, request, signal);
      // The thread reading the fewest replies: long replies do not pile up on one thread.
      return threads.reduce((a, b) => (b.reading < a.reading ? b : a)).stream(modelId, request, signal);
    },
    close: async () => void (await Promise.all(threads.map((thread) => thread.close()))),
  };
}

function readOnMainThread(models: ModelRegistry, modelId: string, request: ReplyRequest, signal: AbortSignal): AsyncIterable<ReplyPart[]> {
  const reading = new AbortController();
  const reply = new ReplyQueue(() => reading.abort(new Error('generation stopped')));
  if (!reply.failOnAbort(signal)) return reply;
  void (async () => {
    try {
      for await (const part of readReply(models.languageModel(modelId), request, reading.signal)) reply.push(part);
      reply.end();
    } catch (error) {
      reply.fail(error); // after a stop, the reply has failed already and this is ignored
    }
  })();
  return reply;
}

/** One worker thread and the replies it is reading: started by its first reply (an idle server holds none), and replaced by the next one if it dies. */
class ProviderThread {
  readonly #config: ModelsConfig;
  readonly #log: Logger;
  readonly #replies = new Map<number, ReplyQueue>();
  #worker: Worker | null = null;
  #nextId = 1;
  #closed = false;

  constructor(config: ModelsConfig, log: Logger) {
    this.#config = config;
    this.#log = log;
  }

  get reading(): number {
    return this.#replies.size;
  }

  stream(modelId: string, request: ReplyRequest, signal: AbortSignal): AsyncIterable<ReplyPart[]> {
    const id = this.#nextId++;
    const worker = this.#worker ?? this.#start();
    const reply = new ReplyQueue(() => {
      if (this.#replies.delete(id)) worker.postMessage({ type: 'abort', id } satisfies ToProviderThread);
    });
    if (reply.failOnAbort(signal)) {
      this.#replies.set(id, reply);
      worker.postMessage({ type: 'start', id, modelId, request } satisfies ToProviderThread);
    }
    return reply;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#worker?.terminate();
  }

  #start(): Worker {
    // A thread that runs out of memory (a vendor's answer the limits missed) stops alone, failing its own
    // replies; without a limit of its own it would take the whole process with it.
    // Its events (a stop, every reply's parts) belong to no request, not to the first reply's.
    const options = { workerData: { models: this.#config }, resourceLimits: { maxOldGenerationSizeMb: THREAD_HEAP_MB } };
    const worker = outsideAnyRequest(() => new Worker(PROVIDER_THREAD_ENTRY, options));
    worker.unref(); // it never keeps the process alive by itself
    worker.on('message', (messages: FromProviderThread[]) => {
      for (const message of messages) this.#receive(message);
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

  #receive(message: FromProviderThread): void {
    const reply = this.#replies.get(message.id);
    if (!reply) return; // stopped on this side already
    if ('part' in message) return reply.push(message.part);
    this.#replies.delete(message.id);
    if ('end' in message) reply.end();
    else reply.fail(new ProviderFailure(message.failure.description, message.failure.details, message.failure.kind));
  }
}

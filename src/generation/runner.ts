// Runs assistant generations on the server, independent of any client: streams the provider's reply into
// the event log, persists it as it goes (so a crash loses at most one flush interval), and finishes the
// message as COMPLETED, FAILED, CANCELLED or INTERRUPTED.
import type { Conversation, PrismaClient } from '../generated/prisma/client.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { ProviderStreams } from '../models/provider-streams.ts';
import { toProviderFailure, type Usage } from '../models/reply.ts';
import type { AppPubSub } from '../pubsub.ts';
import { contextWindow } from '../messages/context-window.ts';
import type { GenerationEventLog } from '../streams/event-log.ts';
import { finishGeneration, type Outcome } from './finish.ts';
import { toPrompt } from './prompt.ts';
import { StreamPersister } from './persister.ts';

export type GenerationJob = {
  messageId: string;
  /** As the send stored it: the prompt is built from it without reading it again. */
  conversation: Conversation;
  model: string;
};

export type RunnerDeps = {
  prisma: PrismaClient;
  eventLog: GenerationEventLog;
  providers: ProviderStreams;
  pubsub: AppPubSub;
  log: Logger;
  config: Config['generation'];
  /** This instance, as written in Message.runnerId. */
  runnerId: string;
};

type StopReason = 'cancel' | 'shutdown' | 'timeout';
type Running = { controller: AbortController; stopReason: StopReason | null; done: Promise<void> };

export class GenerationRunner {
  readonly #deps: RunnerDeps;
  readonly #running = new Map<string, Running>();
  readonly #persister: StreamPersister;
  #stopping = false;
  #followers = 0;
  readonly #noFollowers: (() => void)[] = [];

  constructor(deps: RunnerDeps) {
    this.#deps = deps;
    this.#persister = new StreamPersister(deps.prisma, deps.log);
  }

  get runnerId(): string {
    return this.#deps.runnerId;
  }

  /** A subscriber here follows a generation (from any instance); call the returned function when it stops. */
  follow(): () => void {
    this.#followers += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#followers -= 1;
      if (this.#followers === 0) for (const wake of this.#noFollowers.splice(0)) wake();
    };
  }

  /** Waits (up to timeoutMs) for the subscribers here to receive the ends of their streams. */
  async followersDone(timeoutMs: number): Promise<void> {
    if (this.#followers === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([new Promise<void>((resolve) => this.#noFollowers.push(resolve)), new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
  }

  /** False once shutdown has begun: no new generation starts here. */
  get accepting(): boolean {
    return !this.#stopping;
  }

  /** Opens the message's event log (MessageStarted) and starts generating in the background. */
  async start(job: GenerationJob): Promise<void> {
    await this.#deps.eventLog.open(job.messageId);
    const running: Running = { controller: new AbortController(), stopReason: null, done: Promise.resolve() };
    this.#running.set(job.messageId, running);
    running.done = this.#run(job, running)
      .catch((err) => this.#deps.log.error({ err, messageId: job.messageId }, 'generation could not be finished'))
      .finally(() => this.#running.delete(job.messageId));
  }

  /** Aborts a generation running here (the provider request with it); false if it does not run here. */
  cancel(messageId: string, reason: StopReason = 'cancel'): boolean {
    const running = this.#running.get(messageId);
    if (!running) return false;
    running.stopReason ??= reason;
    running.controller.abort(new Error(`generation ${reason}`));
    return true;
  }

  /** Waits up to graceMs for running generations to finish, then interrupts the rest and waits for them. */
  async shutdown(graceMs: number): Promise<void> {
    this.#stopping = true;
    const all = () => Promise.all([...this.#running.values()].map((r) => r.done));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all(), new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    for (const messageId of this.#running.keys()) this.cancel(messageId, 'shutdown');
    await all();
    await this.#persister.close();
  }

  async #run(job: GenerationJob, running: Running): Promise<void> {
    const { prisma, eventLog, providers, config } = this.#deps;
    const signal = running.controller.signal;
    let sequenceNumber = 0;
    let content = '';
    let usage: Usage | undefined;
    let outcome: Outcome;

    this.#persister.track(job.messageId);
    // A provider that goes silent (hung upstream) is given up on. Checked on a timer rather than re-armed
    // for every token, which would cost two timer operations per token.
    let lastHeard = Date.now();
    const silentTooLong = () => Date.now() - lastHeard >= config.providerTimeoutMs;
    const idleCheck = setInterval(() => {
      // After a stall of this thread, this timer can run before the chunks that arrived meanwhile are read;
      // setImmediate runs after the next read of pending I/O, so only real silence counts.
      if (silentTooLong()) setImmediate(() => silentTooLong() && this.cancel(job.messageId, 'timeout'));
    }, Math.min(1000, config.providerTimeoutMs / 4));

    try {
      const window = await contextWindow(prisma, job.conversation, config.contextMaxTokens);
      lastHeard = Date.now(); // the provider's silence counts from its request, not from reading the history
      for await (const chunk of providers.stream(job.model, toPrompt(window), signal)) {
        lastHeard = Date.now();
        if (chunk.usage) usage = chunk.usage;
        if (!chunk.text) continue;
        sequenceNumber += 1;
        content += chunk.text;
        this.#persister.add(job.messageId, chunk.text, sequenceNumber);
        await eventLog.append(job.messageId, { type: 'delta', sequenceNumber, delta: chunk.text });
      }
      outcome = signal.aborted ? stoppedOutcome(running.stopReason, config.providerTimeoutMs) : { status: 'COMPLETED', error: null };
    } catch (error) {
      if (signal.aborted) outcome = stoppedOutcome(running.stopReason, config.providerTimeoutMs);
      else {
        const failure = toProviderFailure(error);
        outcome = { status: 'FAILED', error: failure.description };
        this.#deps.log.warn({ err: error, ...failure.details, messageId: job.messageId, model: job.model }, 'provider failed');
      }
    } finally {
      clearInterval(idleCheck);
      this.#persister.untrack(job.messageId);
    }
    await finishGeneration(this.#deps, job, { sequenceNumber: sequenceNumber + 1, content, usage, outcome });
  }
}

function stoppedOutcome(reason: StopReason | null, timeoutMs: number): Outcome {
  if (reason === 'timeout') return { status: 'FAILED', error: `The model did not answer for ${Math.round(timeoutMs / 1000)} seconds.` };
  return { status: reason === 'shutdown' ? 'INTERRUPTED' : 'CANCELLED', error: null };
}

// Runs assistant generations on the server, independent of any client: streams the provider's reply into
// the event log, persists it as it goes (so a crash loses at most one flush interval), and finishes the
// message as COMPLETED, FAILED, CANCELLED or INTERRUPTED.
import { APICallError, type LanguageModelV3StreamPart } from '@ai-sdk/provider';
import type { Prisma, PrismaClient } from '../generated/prisma/client.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { ModelRegistry } from '../models/registry.ts';
import { publishConversationEvent, type AppPubSub } from '../pubsub.ts';
import { contextWindow } from '../messages/context-window.ts';
import { previewOf } from '../messages/service.ts';
import { countTokens } from '../tokens.ts';
import type { GenerationEventLog } from '../streams/event-log.ts';
import type { StreamEvent } from '../streams/events.ts';
import { toPrompt } from './prompt.ts';
import { StreamPersister } from './persister.ts';

export type GenerationJob = {
  messageId: string;
  conversationId: string;
  owner: { orgId: string; userId: string };
  model: string;
};

export type RunnerDeps = {
  prisma: PrismaClient;
  eventLog: GenerationEventLog;
  models: ModelRegistry;
  pubsub: AppPubSub;
  log: Logger;
  config: Config['generation'];
  /** This instance, as written in Message.runnerId. */
  runnerId: string;
};


type StopReason = 'cancel' | 'shutdown' | 'timeout';
type Running = { controller: AbortController; stopReason: StopReason | null; done: Promise<void> };

type Outcome =
  | { status: 'COMPLETED' | 'CANCELLED' | 'INTERRUPTED'; error: null }
  | { status: 'FAILED'; error: string };

type Usage = { inputTokens: number | undefined; outputTokens: number | undefined };

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
    const { prisma, eventLog, models, config } = this.#deps;
    const signal = running.controller.signal;
    let sequenceNumber = 0;
    let content = '';
    let usage: Usage | undefined;
    let outcome: Outcome;
    let reader: ReadableStreamDefaultReader<LanguageModelV3StreamPart> | undefined;

    this.#persister.track(job.messageId);
    // A provider that goes silent (hung upstream) is given up on. Checked on a timer rather than re-armed
    // for every token, which would cost two timer operations per token.
    let lastHeard = Date.now();
    const idleCheck = setInterval(() => {
      if (Date.now() - lastHeard >= config.providerTimeoutMs) this.cancel(job.messageId, 'timeout');
    }, Math.min(1000, config.providerTimeoutMs / 4));

    try {
      const conversation = await prisma.conversation.findUniqueOrThrow({ where: { id: job.conversationId } });
      const window = await contextWindow(prisma, conversation, config.contextMaxTokens);
      // The provider's own streaming call, not streamText: this server needs text deltas and usage only,
      // and skipping streamText's multi-step, tool and telemetry pipeline cuts the cost of every token.
      const { stream } = await models.languageModel(job.model).doStream({ prompt: toPrompt(window), abortSignal: signal });
      reader = stream.getReader();
      for await (const parts of queuedTogether(reader)) {
        lastHeard = Date.now();
        let delta = '';
        let failure: { error: unknown } | null = null;
        for (const part of parts) {
          if (part.type === 'text-delta') delta += part.delta;
          else if (part.type === 'finish') usage = { inputTokens: part.usage.inputTokens.total, outputTokens: part.usage.outputTokens.total };
          else if (part.type === 'error') {
            failure = { error: part.error };
            break;
          }
        }
        if (delta) {
          // Text that came before an error in the same group is part of the reply: keep it.
          sequenceNumber += 1;
          content += delta;
          this.#persister.add(job.messageId, delta, sequenceNumber);
          await eventLog.append(job.messageId, { type: 'delta', sequenceNumber, delta });
        }
        if (failure) throw failure.error;
      }
      outcome = signal.aborted ? stoppedOutcome(running.stopReason, config.providerTimeoutMs) : { status: 'COMPLETED', error: null };
    } catch (error) {
      outcome = signal.aborted ? stoppedOutcome(running.stopReason, config.providerTimeoutMs) : { status: 'FAILED', error: describeProviderError(error) };
      if (!signal.aborted) this.#deps.log.warn({ err: error, messageId: job.messageId, model: job.model }, 'provider failed');
    } finally {
      clearInterval(idleCheck);
      this.#persister.untrack(job.messageId);
      reader?.cancel().catch(() => {}); // after an error part, close the upstream response too
    }
    await finishGeneration(this.#deps, job, { sequenceNumber: sequenceNumber + 1, content, usage, outcome });
  }
}

/**
 * The stream's parts, grouped: each group is one part plus every part already queued behind it. A server
 * that keeps up sends one event per provider chunk; one that falls behind sends the text that piled up as
 * one event, so that each subscriber's GraphQL execution and socket write serve several tokens.
 */
async function* queuedTogether<T>(reader: ReadableStreamDefaultReader<T>): AsyncGenerator<T[]> {
  const nothingQueued = Symbol('nothing queued');
  let next: Promise<ReadableStreamReadResult<T>> | null = null;
  for (;;) {
    const first = await (next ?? reader.read());
    next = null;
    if (first.done) return;
    const group = [first.value];
    let ended = false;
    for (;;) {
      next = reader.read();
      // A part already queued resolves within microtasks; an empty queue loses to setImmediate.
      const more = await Promise.race([next, new Promise<typeof nothingQueued>((resolve) => setImmediate(resolve, nothingQueued))]);
      if (more === nothingQueued) break; // keep `next` for the following round
      next = null;
      if (more.done) {
        ended = true;
        break;
      }
      group.push(more.value);
    }
    yield group;
    if (ended) return;
  }
}

function stoppedOutcome(reason: StopReason | null, timeoutMs: number): Outcome {
  if (reason === 'timeout') return { status: 'FAILED', error: `The model did not answer for ${Math.round(timeoutMs / 1000)} seconds.` };
  return { status: reason === 'shutdown' ? 'INTERRUPTED' : 'CANCELLED', error: null };
}

/** Words fit for a user; the details go to the log. */
export function describeProviderError(error: unknown): string {
  if (APICallError.isInstance(error)) {
    const detail = error.message && error.message.length <= 200 ? `: ${error.message}` : '';
    return error.statusCode ? `The model provider answered with an error (HTTP ${error.statusCode})${detail}` : `The model provider could not be reached${detail}`;
  }
  if (error instanceof Error && error.name === 'AI_InvalidPromptError') return 'The conversation could not be put into a request for the model.';
  return 'The connection to the model provider failed before the reply was complete.';
}

type Finish = { sequenceNumber: number; content: string; usage?: Usage; outcome: Outcome };

/**
 * Writes the final state of a generated message and its conversation's counters in one transaction, then
 * logs the terminal event and tells subscribers. Only a message still STREAMING is finished, so two
 * finishers (a runner and a forced cancel, say) cannot both count its tokens.
 */
export async function finishGeneration(
  deps: Pick<RunnerDeps, 'prisma' | 'eventLog' | 'pubsub'>,
  job: Pick<GenerationJob, 'messageId' | 'conversationId' | 'owner'>,
  { sequenceNumber, content, usage, outcome }: Finish,
): Promise<boolean> {
  const tokens = usage?.outputTokens ?? countTokens(content);
  const now = new Date();
  const finished = await deps.prisma.$transaction(async (tx) => {
    const { count } = await tx.message.updateMany({
      where: { id: job.messageId, status: 'STREAMING' },
      data: {
        content,
        status: outcome.status,
        error: outcome.error,
        tokens,
        promptTokens: usage?.inputTokens ?? null,
        completionTokens: usage?.outputTokens ?? null,
        completedAt: now,
        sequenceNumber,
        runnerId: null,
        heartbeatAt: null,
      } satisfies Prisma.MessageUpdateManyMutationInput,
    });
    if (count === 0) return (await tx.message.count({ where: { id: job.messageId } })) === 0 ? 'gone' : false;
    await tx.conversation.updateMany({
      where: { id: job.conversationId },
      data: { totalTokens: { increment: tokens }, preview: previewOf(content), updatedAt: now },
    });
    return true;
  });
  if (finished === 'gone') {
    // Purged while generating: end the log anyway, so that nobody waits on it.
    await deps.eventLog.append(job.messageId, { type: 'completed', sequenceNumber, status: 'CANCELLED' }).catch(() => undefined);
    return false;
  }
  if (!finished) return false;
  const terminal: StreamEvent =
    outcome.status === 'FAILED'
      ? { type: 'failed', sequenceNumber, code: 'PROVIDER_ERROR', error: outcome.error }
      : { type: 'completed', sequenceNumber, status: outcome.status };
  // The log may be gone (a recovered message whose process died): its subscribers read the database.
  await deps.eventLog.append(job.messageId, terminal).catch(() => undefined);
  publishConversationEvent(deps.pubsub, job.owner, { type: 'MESSAGE_UPDATED', conversationId: job.conversationId, messageId: job.messageId });
  return true;
}

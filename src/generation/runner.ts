// Runs assistant generations on the server, independent of any client: streams the provider's reply into
// the event log, persists it as it goes (so a crash loses at most one flush interval), and finishes the
// message as COMPLETED, FAILED, CANCELLED or INTERRUPTED.
import { Prisma, type Conversation, type PrismaClient } from '../generated/prisma/client.ts';
import { sqlStateOf } from '../errors.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { ProviderStreams } from '../models/provider-streams.ts';
import { toProviderFailure } from '../models/reply.ts';
import type { StreamEvent } from '../streams/events.ts';
import type { OfferedTools } from '../tools.ts';
import type { AppPubSub } from '../pubsub.ts';
import { contextWindow } from '../messages/context-window.ts';
import type { GenerationEventLog } from '../streams/event-log.ts';
import { finishGeneration, terminalEventOf, type Finish, type Outcome } from './finish.ts';
import { SpanStatusCode } from '@opentelemetry/api';
import { countTokens } from '../tokens.ts';
import type { GenerationMetrics } from '../observability/metrics.ts';
import { tracer } from '../observability/tracing.ts';
import { replyRequest } from './prompt.ts';
import { AssembledReply } from './assembled-reply.ts';
import { StreamPersister } from './persister.ts';
import { StreamedBytes } from './streamed-bytes.ts';
import type { RateLimiter } from '../rate-limit.ts';
import type { ConversationTitler } from '../conversations/titles.ts';
import { StreamingReplies, type ReplyPlace } from './streaming-replies.ts';
import type { Viewer } from '../auth.ts';
import { KeyedQueue } from '../keyed-queue.ts';
import type { StorageQuota } from '../storage-quota.ts';

export type GenerationJob = {
  messageId: string;
  /** As the send stored it: the prompt is built from it without reading it again. */
  conversation: Conversation;
  model: string;
  /** The message the reply answers (its parent): the prompt is the branch that ends there. */
  answers: string | null;
  /** The sequence ceiling the message was stored with (see persister.ts). */
  sequenceCeiling: number;
  /** The tools this turn offers the model. */
  tools: OfferedTools;
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
  metrics: GenerationMetrics;
  /** Told of every completed reply: names untitled conversations (conversations/titles.ts). */
  titler: Pick<ConversationTitler, 'afterReply'>;
  /** Counts what each reply streams toward its owner's hour (RATE_LIMIT_STREAMED_MB_PER_HOUR). */
  rateLimiter: Pick<RateLimiter, 'streamed'>;
  /** What a reply's text adds to its owner's storage, as it streams. */
  storageQuota: Pick<StorageQuota, 'stored'>;
};

/** Why a generation was stopped before its provider ended it: a client, a shutdown, or a limit. */
type StopReason = 'cancel' | 'shutdown' | 'timeout' | 'length' | 'hour streamed' | 'overtime' | 'taken over';
/** Between attempts at the final write of a message: its text waits here meanwhile. */
const FINISH_RETRY_MS = { first: 200, max: 5_000 };
/** Failed attempts after which a write the database keeps refusing gives way to one that keeps less. */
const FULL_FINISH_ATTEMPTS = 3;
/** On shutdown, how long final writes are retried after the grace period (then recovery has them). */
const SHUTDOWN_FINISH_MS = 5_000;

/** The event log refused an event: the reply cannot be streamed, whatever the provider does. */
class EventLogFailure extends Error {}
type Running = { controller: AbortController; stopReason: StopReason | null; done: Promise<void> };

export class GenerationRunner {
  readonly #deps: RunnerDeps;
  readonly #running = new Map<string, Running>();
  readonly #streamingReplies: StreamingReplies;
  readonly #persister: StreamPersister;
  readonly #interruptingTurns = new KeyedQueue();
  #stopping = false;
  /** Set late in a shutdown: final writes still failing are left to recovery. */
  #givingUp = false;

  constructor(deps: RunnerDeps) {
    this.#deps = deps;
    this.#streamingReplies = new StreamingReplies(deps.config.streamingRepliesPerUser);
    this.#persister = new StreamPersister(deps.prisma, deps.log, (messageId) => this.cancel(messageId, 'taken over'));
  }

  get runnerId(): string {
    return this.#deps.runnerId;
  }

  /** False once shutdown has begun: no new generation starts here. */
  get accepting(): boolean {
    return !this.#stopping;
  }

  /** Whether this instance is generating (or still finishing) the message: recovery leaves those alone. */
  isRunning(messageId: string): boolean {
    return this.#running.has(messageId);
  }

  /**
   * A place for one more streaming reply of the viewer here, to take before the reply is stored; throws
   * RATE_LIMITED when they hold all theirs. `start` keeps it until the reply ends; else release it.
   */
  placeFor(viewer: Viewer): ReplyPlace {
    return this.#streamingReplies.take(viewer);
  }

  /**
   * Runs the INTERRUPT turns of one conversation here one after another: run at once, each stopped the reply
   * another had just started, and could be refused GENERATION_IN_PROGRESS after its last try.
   */
  interruptingTurn<T>(conversationId: string, turn: () => Promise<T>): Promise<T> {
    return this.#interruptingTurns.run(conversationId, turn);
  }

  /** Opens the message's event log (MessageStarted) and starts generating in the background, in `place`. */
  async start(job: GenerationJob, place: ReplyPlace): Promise<void> {
    const running: Running = { controller: new AbortController(), stopReason: null, done: Promise.resolve() };
    this.#running.set(job.messageId, running); // before anything is awaited: recovery sees it running
    try {
      await this.#deps.eventLog.open(job.messageId);
    } catch (error) {
      this.#running.delete(job.messageId); // left STREAMING: recovery ends it once it is quiet
      throw error;
    }
    running.done = this.#run(job, running)
      .catch((err) => this.#deps.log.error({ err, messageId: job.messageId }, 'generation could not be finished'))
      .finally(() => {
        this.#running.delete(job.messageId);
        place.release();
      });
  }

  /** Aborts a generation running here (the provider request with it); false if it does not run here. */
  cancel(messageId: string, reason: StopReason = 'cancel'): boolean {
    const running = this.#running.get(messageId);
    if (!running) return false;
    running.stopReason ??= reason;
    running.controller.abort(new Error(`generation ${reason}`));
    return true;
  }

  /** Settles once a generation running here has ended and given its place back; at once if none runs here. */
  ended(messageId: string): Promise<void> {
    return this.#running.get(messageId)?.done ?? Promise.resolve();
  }

  /** Waits up to graceMs for running generations to finish, then interrupts the rest and waits for them. */
  async shutdown(graceMs: number): Promise<void> {
    this.#stopping = true;
    const all = () => Promise.all([...this.#running.values()].map((r) => r.done));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all(), new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    for (const messageId of this.#running.keys()) this.cancel(messageId, 'shutdown');
    // Final writes that still fail (the database is away) are given up on after a while: the messages stay
    // STREAMING with what was persisted, and recovery (here at the next start, or another instance) ends them.
    const giveUp = setTimeout(() => (this.#givingUp = true), SHUTDOWN_FINISH_MS);
    await all();
    clearTimeout(giveUp);
    await this.#persister.close();
  }

  async #run(job: GenerationJob, running: Running): Promise<void> {
    const { prisma, eventLog, providers, config, log, metrics } = this.#deps;
    const signal = running.controller.signal;
    const startedAt = performance.now();
    metrics.started(job.model);
    // Beneath the operation that started it (the active span, when tracing is on).
    const span = tracer().startSpan('llm.stream', { attributes: { 'gen_ai.request.model': job.model, 'chat.message_id': job.messageId } });
    const stopped = aborted(signal);
    let sequenceNumber = 0;
    const reply = new AssembledReply({ maxChars: config.replyMaxChars });
    const streamed = new StreamedBytes(this.#deps.rateLimiter, job.conversation, log, this.#deps.storageQuota);
    let outcome: Outcome;

    this.#persister.track(job.messageId, job.sequenceCeiling);
    // A provider that goes silent (hung upstream) is given up on. Checked on a timer rather than re-armed
    // for every token, which would cost two timer operations per token.
    let lastHeard = Date.now();
    // While the stream waits on the database (its event numbers), the provider's silence is not its own.
    let waitingOnDatabase = false;
    const silentTooLong = () => !waitingOnDatabase && Date.now() - lastHeard >= config.providerTimeoutMs;
    const overtimeAt = Date.now() + config.replyMaxMs;
    const idleCheck = setInterval(() => {
      // After a stall of this thread, this timer can run before the chunks that arrived meanwhile are read;
      // setImmediate runs after the next read of pending I/O, so only real silence counts.
      if (silentTooLong()) setImmediate(() => silentTooLong() && this.cancel(job.messageId, 'timeout'));
      if (Date.now() >= overtimeAt) this.cancel(job.messageId, 'overtime');
    }, Math.min(1000, config.providerTimeoutMs / 4, config.replyMaxMs / 4));

    try {
      const window = await contextWindow(prisma, job.conversation, job.answers, config.contextMaxTokens);
      lastHeard = Date.now(); // the provider's silence counts from its request, not from reading the history
      reading: for await (const batch of providers.stream(job.model, replyRequest(window, job.tools), signal)) {
        lastHeard = Date.now();
        for (const part of batch) {
          if (signal.aborted) break reading; // stopped (taken over, say) in the middle of a batch
          // Before the part is taken: a part taken is a part streamed, or the stored reply would hold more.
          const reserved = part.kind === 'finish' ? null : this.#persister.reserve(job.messageId, sequenceNumber + 1);
          if (reserved) {
            waitingOnDatabase = true;
            await Promise.race([reserved, stopped]); // the database is slow or away: the stream waits
            waitingOnDatabase = false;
            lastHeard = Date.now();
            if (signal.aborted) break reading;
          }
          const event = reply.add(part);
          if (event) {
            sequenceNumber += 1;
            if (sequenceNumber === 1) metrics.firstToken(job.model, (performance.now() - startedAt) / 1000);
            this.#persister.add(job.messageId, event, reply.toolCalls);
            const logged = { ...event, sequenceNumber } as StreamEvent;
            await eventLog.append(job.messageId, logged).catch((err) => {
              throw new EventLogFailure('the event log refused an event', { cause: err });
            });
            streamed.add(logged);
          }
          if (reply.full || streamed.spent) {
            reply.finishReason = 'LENGTH'; // as a provider's own limit would end it
            this.cancel(job.messageId, reply.full ? 'length' : 'hour streamed');
            break reading;
          }
        }
      }
      outcome = signal.aborted ? stoppedOutcome(running.stopReason, config) : { status: 'COMPLETED', error: null };
    } catch (error) {
      if (error instanceof EventLogFailure) {
        outcome = { status: 'FAILED', error: 'The reply could not be streamed.' };
        log.error({ err: error.cause, messageId: job.messageId }, 'event log append failed; the generation is stopped');
        running.controller.abort(error);
      } else if (signal.aborted) outcome = stoppedOutcome(running.stopReason, config);
      else {
        const failure = toProviderFailure(error);
        outcome = { status: 'FAILED', error: failure.description };
        metrics.providerFailed(job.model, failure.kind);
        log.warn({ err: error, ...failure.details, messageId: job.messageId, model: job.model }, 'provider failed');
      }
      if (running.stopReason === 'timeout') metrics.providerFailed(job.model, 'timeout');
    } finally {
      // Until the final write is done, what is pending is still flushed: if that write has to give way to
      // one that keeps the persisted text (or to recovery), the text is there.
      clearInterval(idleCheck);
      void streamed.end(); // the rest, not waited for: the end of the reply does not wait on Redis
    }
    if (running.stopReason === 'hour streamed') {
      log.info({ messageId: job.messageId, model: job.model }, "a reply was stopped: its owner's replies streamed the hour's RATE_LIMIT_STREAMED_MB_PER_HOUR");
    }
    if (running.stopReason === 'overtime') {
      metrics.providerFailed(job.model, 'overtime');
      log.warn({ messageId: job.messageId, model: job.model, seconds: config.replyMaxMs / 1000 }, 'a reply streamed past REPLY_MAX_SECONDS and was stopped');
    }
    const counted = await countTokens(reply.countedText);
    const tokens = reply.usage?.outputTokens ?? counted;
    try {
      this.#persister.finishing(job.messageId);
      await this.#finishDurably(job, { sequenceNumber: sequenceNumber + 1, outcome, reply, counted });
      // Named from its first message, so whatever the reply's fate (not while shutting down, though).
      if (outcome.status !== 'INTERRUPTED') this.#deps.titler.afterReply(job.conversation, job.model, { replyFailed: outcome.status === 'FAILED' });
    } finally {
      this.#persister.untrack(job.messageId);
      metrics.finished(job.model, outcome.status, (performance.now() - startedAt) / 1000, tokens);
      span.setAttributes({ 'chat.outcome': outcome.status, 'gen_ai.usage.output_tokens': tokens, 'chat.stream_events': sequenceNumber });
      if (outcome.status === 'FAILED') span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.error });
      span.end();
    }
  }

  /**
   * The final write, retried until it is done: the text stays here meanwhile and the heartbeat goes on,
   * so no other instance takes the message for abandoned. A write the database keeps refusing (not an
   * outage: the database answers) gives way to one that keeps the persisted text and marks the message
   * FAILED, so that it cannot stay STREAMING.
   */
  async #finishDurably(job: GenerationJob, finish: Finish): Promise<void> {
    const { log } = this.#deps;
    for (let attempt = 1; ; attempt++) {
      try {
        const finished = await finishGeneration(this.#deps, job, finish);
        if (!finished) await this.#endTakenOverStream(job.messageId, finish.sequenceNumber);
        if (attempt > 1) log.info({ messageId: job.messageId, attempts: attempt }, 'generation finished after retries');
        return;
      } catch (err) {
        if (attempt === 1) log.warn({ err, messageId: job.messageId }, 'could not finish the generation; retrying');
        if (attempt >= FULL_FINISH_ATTEMPTS && isRefusal(err) && (await this.#finishFailed(job, finish.sequenceNumber))) return;
      }
      if (this.#givingUp) {
        log.error({ messageId: job.messageId }, 'gave up finishing the generation at shutdown; recovery will end it with its persisted text');
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(FINISH_RETRY_MS.first * 2 ** (attempt - 1), FINISH_RETRY_MS.max)));
    }
  }

  /**
   * The message was finished by another meanwhile (recovery by an instance that took this one for dead
   * during a long outage, or a forced stop): the text since its last write is lost. That finisher could not
   * end this stream after the events written here, so its end is written here, as the row tells it.
   */
  async #endTakenOverStream(messageId: string, sequenceNumber: number): Promise<void> {
    const { prisma, eventLog, log } = this.#deps;
    log.warn({ messageId }, 'the message was finished by another while its runner held the reply');
    const message = await prisma.message.findUnique({ where: { id: messageId }, select: { status: true, error: true, sequenceNumber: true } });
    if (!message) return; // purged: finishGeneration has ended the stream
    await eventLog.append(messageId, terminalEventOf(message, sequenceNumber)).catch((err) => log.warn({ err, messageId }, 'could not log the terminal event; followers will read it from the database'));
  }

  /** The last resort of a final write: FAILED with the text persisted so far; false if this fails too. */
  async #finishFailed(job: GenerationJob, sequenceNumber: number): Promise<boolean> {
    try {
      await finishGeneration(this.#deps, job, { sequenceNumber, keepPersistedContent: true, outcome: { status: 'FAILED', error: 'The reply could not be stored.' } });
      this.#deps.log.error({ messageId: job.messageId }, 'the final write of a generation was refused; stored as FAILED with its persisted text');
      return true;
    } catch {
      return false;
    }
  }
}

/**
 * The database answered and refused the statement (not an outage): a retry of the same cannot succeed. A
 * statement PostgreSQL cancelled (its statement timeout), one that lost a deadlock or a serialization race,
 * and one it had no resources or connection for may succeed when tried again: those are not refusals.
 */
export function isRefusal(error: unknown): boolean {
  if (!(error instanceof Prisma.PrismaClientKnownRequestError) || !error.code.startsWith('P2')) return false;
  const sqlState = sqlStateOf(error);
  return !(sqlState !== undefined && TRANSIENT_SQLSTATE.test(sqlState));
}

/** SQLSTATE classes 08 (connection), 40 (transaction rollback), 53 (insufficient resources), 57 (operator intervention), and 55P03 (lock not available). */
const TRANSIENT_SQLSTATE = /^(08|40|53|57)|^55P03$/;

/** Resolves when the signal aborts. */
function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
}

function stoppedOutcome(reason: StopReason | null, config: Pick<Config['generation'], 'providerTimeoutMs' | 'replyMaxMs'>): Outcome {
  if (reason === 'timeout') return { status: 'FAILED', error: `The model did not answer for ${Math.round(config.providerTimeoutMs / 1000)} seconds.` };
  if (reason === 'overtime') return { status: 'FAILED', error: `The reply was still streaming after ${Math.round(config.replyMaxMs / 1000)} seconds.` };
  if (reason === 'length' || reason === 'hour streamed') return { status: 'COMPLETED', error: null };
  // Taken over: another has finished the message already, and this outcome is not written.
  return { status: reason === 'shutdown' || reason === 'taken over' ? 'INTERRUPTED' : 'CANCELLED', error: null };
}

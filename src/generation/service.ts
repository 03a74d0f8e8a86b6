// sendMessage, cancelGeneration and the message stream: the rules around a generation.
import type { Conversation, Message } from '../generated/prisma/client.ts';
import type { ServiceContext } from '../context.ts';
import { ownerOf } from '../auth.ts';
import { generationInProgress, invalidField, notFound, shuttingDown } from '../errors.ts';
import { idempotent, isRepeat } from '../idempotency.ts';
import { findOwnConversation } from '../conversations/service.ts';
import { findOwnChatSession } from '../chat-sessions/service.ts';
import { insertMessage, publishMessageAdded } from '../messages/service.ts';
import { countTokens } from '../tokens.ts';
import { checkContent, checkModel } from '../validation.ts';
import { isTerminal, type StreamEvent } from '../streams/events.ts';
import { finishGeneration } from './runner.ts';

export type SendMessageInput = {
  conversationId: string;
  content: string;
  model?: string | null;
  chatSessionId?: string | null;
  idempotencyKey?: string | null;
  onActiveGeneration?: 'REJECT' | 'INTERRUPT' | null;
};

export type SentMessage = { userMessage: Message; assistantMessage: Message; conversation: Conversation };

/** How long cancelGeneration waits for the runner to stop before it finishes the message itself. */
const CANCEL_WAIT_MS = 5_000;

/**
 * Stores the user message and an empty STREAMING assistant message, starts the generation on the server
 * and returns at once. With a generation already running: REJECT answers GENERATION_IN_PROGRESS, INTERRUPT
 * cancels it first.
 */
export async function sendMessage(ctx: ServiceContext, input: SendMessageInput): Promise<SentMessage> {
  if (!ctx.generation.accepting) throw shuttingDown();
  if (input.content.trim() === '') throw invalidField('content', 'must not be empty');
  checkContent(input.content, ctx.config.maxMessageChars);
  const conversation = await findOwnConversation(ctx, input.conversationId);
  if (conversation.status !== 'ACTIVE') throw notFound('Conversation');
  const session = input.chatSessionId ? await findOwnChatSession(ctx, input.chatSessionId) : null;
  if (session && session.conversationId !== conversation.id) throw invalidField('chatSessionId', 'belongs to another conversation');
  const model = input.model ?? session?.model ?? conversation.model;
  if (input.model != null) checkModel(ctx.models, input.model);
  else if (!ctx.models.has(model)) throw invalidField('model', `the conversation's model "${model}" is no longer served; pass model`);

  // The newest turn always goes to the model: refuse one that cannot fit its context window at all.
  const budget = ctx.config.generation.contextMaxTokens;
  const needed = countTokens(input.content) + (conversation.systemPrompt ? countTokens(conversation.systemPrompt) : 0);
  if (needed > budget) throw invalidField('content', `is ${needed} tokens with the system prompt; the model's context window takes ${budget}`);

  const { idempotencyKey, onActiveGeneration, ...fields } = input;
  await ctx.rateLimiter.generation(ctx.viewer);
  // A repeat of a send returns its first result: it must not interrupt the generation that send started.
  const interrupt = onActiveGeneration === 'INTERRUPT' && !(await isRepeat(ctx.prisma, ctx.viewer, 'sendMessage', idempotencyKey, ctx.config.idempotencyTtlMs));
  for (let attempt = 0; ; attempt++) {
    if (interrupt) await stopActiveGeneration(ctx, conversation.id);
    try {
      const { value, replayed } = await idempotent<SentMessage>({
        prisma: ctx.prisma,
        viewer: ctx.viewer,
        ttlMs: ctx.config.idempotencyTtlMs,
        operation: 'sendMessage',
        key: idempotencyKey,
        input: { ...fields, model },
        idOf: ({ assistantMessage }) => assistantMessage.id,
        replay: (id) => replaySend(ctx, id),
        create: async (tx) => {
          // Storing the user message locks the conversation row, so this check sees every committed send.
          const user = await insertMessage(ctx, tx, {
            conversationId: conversation.id,
            chatSessionId: session?.id ?? null,
            role: 'USER',
            content: input.content,
            status: 'COMPLETED',
            tokens: countTokens(input.content),
            completedAt: new Date(),
          });
          const active = await tx.message.findFirst({ where: { conversationId: conversation.id, status: 'STREAMING' }, select: { id: true } });
          if (active) throw generationInProgress();
          const assistant = await insertMessage(ctx, tx, {
            conversationId: conversation.id,
            chatSessionId: session?.id ?? null,
            role: 'ASSISTANT',
            content: '',
            status: 'STREAMING',
            model,
            tokens: 0,
            runnerId: ctx.generation.runnerId,
            heartbeatAt: new Date(),
          });
          return { userMessage: user.message, assistantMessage: assistant.message, conversation: assistant.conversation };
        },
      });
      if (!replayed) {
        publishMessageAdded(ctx, { message: value.userMessage, conversation: value.conversation });
        publishMessageAdded(ctx, { message: value.assistantMessage, conversation: value.conversation });
        await ctx.generation.start({ messageId: value.assistantMessage.id, conversation: value.conversation, model });
      }
      return value;
    } catch (error) {
      // INTERRUPT lost a race with another send that started a generation meanwhile: interrupt that one too.
      const inProgress = (error as { extensions?: { code?: string } }).extensions?.code === 'GENERATION_IN_PROGRESS';
      if (!interrupt || !inProgress || attempt >= 3) throw error;
    }
  }
}

async function replaySend(ctx: ServiceContext, assistantMessageId: string): Promise<SentMessage> {
  const assistantMessage = await ctx.prisma.message.findFirstOrThrow({ where: { id: assistantMessageId } });
  const [userMessage, conversation] = await Promise.all([
    ctx.prisma.message.findFirstOrThrow({ where: { conversationId: assistantMessage.conversationId, position: assistantMessage.position - 1 } }),
    findOwnConversation(ctx, assistantMessage.conversationId),
  ]);
  return { userMessage, assistantMessage, conversation };
}

/** Cancels the conversation's running generation, if any, and waits for it to end. */
export async function stopActiveGeneration(ctx: ServiceContext, conversationId: string): Promise<void> {
  const active = await ctx.prisma.message.findFirst({ where: { conversationId, status: 'STREAMING' } });
  if (active) await stopGeneration(ctx, active);
}

/**
 * Stops the provider call wherever in the deployment it runs, keeps the partial text, sets CANCELLED.
 * A message that is not streaming is returned unchanged.
 */
export async function cancelGeneration(ctx: ServiceContext, messageId: string): Promise<Message> {
  const message = await ctx.prisma.message.findFirst({ where: { id: messageId, conversation: ownerOf(ctx.viewer) } });
  if (!message) throw notFound('Message');
  if (message.status !== 'STREAMING') return message;
  await stopGeneration(ctx, message);
  return ctx.prisma.message.findUniqueOrThrow({ where: { id: messageId } });
}

async function stopGeneration(ctx: ServiceContext, message: Message): Promise<void> {
  const terminal = waitForTerminal(ctx, message.id, CANCEL_WAIT_MS);
  // The instance running it, this one or another, aborts it and finishes the message.
  if (!ctx.generation.cancel(message.id)) ctx.pubsub.publish('generation:cancel', message.id);
  if (await terminal) return;
  // Nobody finished it in time (its instance is gone): finish it here with what was persisted.
  const current = await ctx.prisma.message.findUniqueOrThrow({ where: { id: message.id }, include: { conversation: { select: { id: true, orgId: true, userId: true } } } });
  const logged = await ctx.eventLog.lastSequenceNumber(message.id);
  await finishGeneration(ctx, { messageId: message.id, conversation: current.conversation }, {
    sequenceNumber: Math.max(logged ?? 0, current.sequenceNumber) + 1,
    content: current.content,
    outcome: { status: 'CANCELLED', error: null },
  });
}

/** True once the message's stream has ended (or it is no longer STREAMING), false after timeoutMs. */
async function waitForTerminal(ctx: ServiceContext, messageId: string, timeoutMs: number): Promise<boolean> {
  // From the last event logged (which may be the terminal one already), not a replay of the whole reply.
  const last = await ctx.eventLog.lastSequenceNumber(messageId);
  const events = await ctx.eventLog.read(messageId, (last ?? 0) - 1);
  if (!events) return false;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
  const ended = (async () => {
    for await (const event of events) if (isTerminal(event)) return true;
    return true;
  })();
  try {
    return await Promise.race([ended, timeout]);
  } finally {
    clearTimeout(timer);
    await events.return?.();
  }
}

// ---- the stream of one message ----

export type MessageStreamPayload = { messageId: string; event: StreamEvent };

/** How often a subscriber to a message whose log is not (yet) here looks at the database again. */
const POLL_MS = 250;
/**
 * A generation that finished this recently may still be having its log copied (after a Redis outage, say):
 * its subscribers wait for the log rather than jump to the terminal event.
 */
const LOG_SETTLE_MS = 15_000;

/**
 * The numbered events of an assistant message above `after`: replayed, then live, ending after the
 * terminal event. Without a log (retention ran out, or the message was never generated), the terminal
 * event alone, built from the database, which carries the whole message.
 */
export async function openMessageStream(ctx: ServiceContext, messageId: string, after: number): Promise<AsyncIterable<MessageStreamPayload>> {
  const message = await ctx.prisma.message.findFirst({ where: { id: messageId, conversation: ownerOf(ctx.viewer) } });
  if (!message) throw notFound('Message');
  if (message.role !== 'ASSISTANT') throw invalidField('messageId', 'only assistant messages have a stream');
  return followMessage(ctx, messageId, after);
}

/** openMessageStream for an assistant message known to be the viewer's: the one `chat` has just created. */
export function followMessage(ctx: ServiceContext, messageId: string, after: number): AsyncIterable<MessageStreamPayload> {
  const { eventLog, prisma, generation } = ctx;
  const payload = (event: StreamEvent): MessageStreamPayload => ({ messageId, event });

  return (async function* () {
    const release = generation.follow();
    let cursor = after;
    try {
      for (;;) {
        const events = await eventLog.read(messageId, cursor);
        if (events) {
          try {
            for await (const event of events) {
              yield payload(event);
              cursor = event.sequenceNumber;
              if (isTerminal(event)) return;
            }
          } finally {
            await events.return?.();
          }
        }
        // No log, or it ended before its terminal event: the database tells whether the message is done.
        const current = await prisma.message.findUnique({ where: { id: messageId } });
        if (!current) return; // purged meanwhile
        if (current.status !== 'STREAMING') {
          const terminal = terminalEventOf(current);
          if (terminal.sequenceNumber <= cursor) return; // nothing after what this subscriber has
          // Mid-stream when the log went missing (a Redis restart, say): its writer may still be copying it
          // back, so wait a little rather than skip to the end; a log that expired gives the terminal alone.
          const midStream = cursor > after && current.completedAt !== null && Date.now() - current.completedAt.getTime() < LOG_SETTLE_MS;
          if (!midStream) {
            yield payload(terminal);
            return;
          }
        }
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
    } finally {
      release();
    }
  })();
}

/** The terminal event of a finished message, from its row. */
export function terminalEventOf(message: Message): StreamEvent {
  const sequenceNumber = Math.max(message.sequenceNumber, 1);
  if (message.status === 'FAILED') return { type: 'failed', sequenceNumber, code: 'PROVIDER_ERROR', error: message.error ?? 'The generation failed.' };
  return { type: 'completed', sequenceNumber, status: message.status === 'STREAMING' ? 'INTERRUPTED' : message.status };
}

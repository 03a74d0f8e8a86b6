// sendMessage, cancelGeneration and the message stream: the rules around a generation.
import type { Conversation, Message } from '../generated/prisma/client.ts';
import type { GenerationDeps } from '../services.ts';
import { findOwnChatSession, findOwnConversation, findOwnMessage } from '../access.ts';
import { generationInProgress, invalidField, isPrismaError, notFound, shuttingDown } from '../errors.ts';
import { earlierResult, idempotent, isRepeat } from '../idempotency.ts';
import { insertMessage, publishMessageAdded } from '../messages/store.ts';
import { countTokens } from '../tokens.ts';
import { checkContent, checkModel } from '../validation.ts';
import { stopActiveGeneration, stopGeneration } from './stop.ts';
import { SEQUENCE_BLOCK } from './persister.ts';

export type SendMessageInput = {
  conversationId: string;
  content: string;
  model?: string | null;
  chatSessionId?: string | null;
  idempotencyKey?: string | null;
  onActiveGeneration?: 'REJECT' | 'INTERRUPT' | null;
};

export type SentMessage = { userMessage: Message; assistantMessage: Message; conversation: Conversation };

/**
 * Stores the user message and an empty STREAMING assistant message, starts the generation on the server
 * and returns at once. With a generation already running: REJECT answers GENERATION_IN_PROGRESS, INTERRUPT
 * cancels it first.
 */
export async function sendMessage(ctx: GenerationDeps, input: SendMessageInput): Promise<SentMessage> {
  const { idempotencyKey, ...sent } = input;
  const keyed = {
    prisma: ctx.prisma,
    viewer: ctx.viewer,
    ttlMs: ctx.config.idempotencyTtlMs,
    operation: 'sendMessage',
    key: idempotencyKey,
    input: sent, // what the client sent, nothing derived: a retry after the model changed is the same send
    replay: (id: string) => replaySend(ctx, id),
  };
  // A retry returns the first result whatever has happened since (the conversation archived, say), before
  // any check or cost: it starts nothing.
  const earlier = await earlierResult(keyed);
  if (earlier) return earlier.value;

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

  // Charged before the tokens are counted: counting a long text is the costly part of this check.
  await ctx.rateLimiter.generation(ctx.viewer);
  // The newest turn always goes to the model: refuse one that cannot fit its context window at all.
  const budget = ctx.config.generation.contextMaxTokens;
  const contentTokens = await countTokens(input.content);
  const needed = contentTokens + (conversation.systemPrompt ? await countTokens(conversation.systemPrompt) : 0);
  if (needed > budget) throw invalidField('content', `is ${needed} tokens with the system prompt; the model's context window takes ${budget}`);

  // A repeat racing its first send (not committed when looked up above) must not interrupt what that started.
  const interrupt = input.onActiveGeneration === 'INTERRUPT' && !(await isRepeat(ctx.prisma, ctx.viewer, 'sendMessage', idempotencyKey, ctx.config.idempotencyTtlMs));
  for (let attempt = 0; ; attempt++) {
    if (interrupt) await stopActiveGeneration(ctx, conversation.id);
    try {
      const { value, replayed } = await idempotent<SentMessage>({
        ...keyed,
        idOf: ({ assistantMessage }) => assistantMessage.id,
        create: async (tx) => {
          // Storing the user message locks the conversation row, so this check sees every committed send.
          const user = await insertMessage(ctx, tx, {
            conversationId: conversation.id,
            chatSessionId: session?.id ?? null,
            role: 'USER',
            content: input.content,
            status: 'COMPLETED',
            tokens: contentTokens,
            completedAt: new Date(),
          });
          const active = await tx.message.findFirst({ where: { conversationId: conversation.id, status: 'STREAMING' }, select: { id: true } });
          if (active) throw generationInProgress();
          // The database holds the rule too (one STREAMING message per conversation: a unique index).
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
            sequenceNumber: SEQUENCE_BLOCK, // the ceiling of its event numbers (see persister.ts)
          }).catch((error) => {
            throw isPrismaError(error, 'P2002') ? generationInProgress() : error;
          });
          return { userMessage: user.message, assistantMessage: assistant.message, conversation: assistant.conversation };
        },
      });
      if (!replayed) {
        publishMessageAdded(ctx.pubsub, { message: value.userMessage, conversation: value.conversation });
        publishMessageAdded(ctx.pubsub, { message: value.assistantMessage, conversation: value.conversation });
        await ctx.generation.start({ messageId: value.assistantMessage.id, conversation: value.conversation, model, sequenceCeiling: value.assistantMessage.sequenceNumber });
      }
      return value;
    } catch (error) {
      // INTERRUPT lost a race with another send that started a generation meanwhile: interrupt that one too.
      const inProgress = (error as { extensions?: { code?: string } }).extensions?.code === 'GENERATION_IN_PROGRESS';
      if (!interrupt || !inProgress || attempt >= 3) throw error;
    }
  }
}

async function replaySend(ctx: GenerationDeps, assistantMessageId: string): Promise<SentMessage> {
  const assistantMessage = await ctx.prisma.message.findFirstOrThrow({ where: { id: assistantMessageId } });
  const [userMessage, conversation] = await Promise.all([
    ctx.prisma.message.findFirstOrThrow({ where: { conversationId: assistantMessage.conversationId, position: assistantMessage.position - 1 } }),
    findOwnConversation(ctx, assistantMessage.conversationId),
  ]);
  return { userMessage, assistantMessage, conversation };
}

/**
 * Stops the provider call wherever in the deployment it runs, keeps the partial text, sets CANCELLED.
 * A message that is not streaming is returned unchanged.
 */
export async function cancelGeneration(ctx: GenerationDeps, messageId: string): Promise<Message> {
  const message = await findOwnMessage(ctx, messageId);
  if (message.status !== 'STREAMING') return message;
  await stopGeneration(ctx, message);
  return ctx.prisma.message.findUniqueOrThrow({ where: { id: messageId } });
}

// Message rules: appending with gapless positions and consistent counters, tool-call shape, idempotency.
import type { Conversation, Message, MessageRole, Prisma } from '../generated/prisma/client.ts';
import type { ServiceContext } from '../context.ts';
import { badUserInput, invalidField, isPrismaError, notFound } from '../errors.ts';
import { idempotent, type Transaction } from '../idempotency.ts';
import { publishConversationEvent } from '../pubsub.ts';
import { countTokens } from '../tokens.ts';
import { checkContent, checkLabel, checkMetadata, checkNonNegativeInt } from '../validation.ts';
import { visibleTo, findOwnConversation } from '../conversations/service.ts';

export type AppendMessageInput = {
  conversationId: string;
  role: MessageRole;
  content: string;
  toolCalls?: unknown;
  toolCallId?: string | null;
  tokens?: number | null;
  metadata?: unknown;
  chatSessionId?: string | null;
  idempotencyKey?: string | null;
};

export type AppendedMessage = { message: Message; conversation: Conversation };

export const PREVIEW_CHARS = 100;

/** First 100 characters (code points, so an emoji is never cut in half). */
export const previewOf = (content: string) => Array.from(content).slice(0, PREVIEW_CHARS).join('');

export async function appendMessage(ctx: ServiceContext, input: AppendMessageInput): Promise<AppendedMessage> {
  checkContent(input.content, ctx.config.maxMessageChars);
  checkNonNegativeInt(input.tokens, 'tokens');
  checkLabel(input.toolCallId, 'toolCallId');
  if (input.role === 'TOOL' && input.toolCallId == null) throw invalidField('toolCallId', 'is required for TOOL messages');
  if (input.role !== 'TOOL' && input.toolCallId != null) throw invalidField('toolCallId', 'is only for TOOL messages');
  if (input.toolCalls != null) {
    if (input.role !== 'ASSISTANT') throw invalidField('toolCalls', 'are only for ASSISTANT messages');
    checkToolCalls(input.toolCalls);
  }
  const metadata = input.metadata == null ? {} : checkMetadata(input.metadata);
  const tokens = input.tokens ?? countTokens(input.content) + (input.toolCalls != null ? countTokens(JSON.stringify(input.toolCalls)) : 0);
  if (input.chatSessionId != null) await checkChatSession(ctx, input.conversationId, input.chatSessionId);
  const { idempotencyKey, ...fields } = input;

  const { value, replayed } = await idempotent<AppendedMessage>({
    prisma: ctx.prisma,
    viewer: ctx.viewer,
    ttlMs: ctx.config.idempotencyTtlMs,
    operation: 'appendMessage',
    key: idempotencyKey,
    input: fields,
    idOf: ({ message }) => message.id,
    replay: async (id) => {
      const message = await ctx.prisma.message.findFirstOrThrow({ where: { id } });
      return { message, conversation: await findOwnConversation(ctx, message.conversationId) };
    },
    create: (tx) =>
      insertMessage(ctx, tx, {
        conversationId: input.conversationId,
        chatSessionId: input.chatSessionId ?? null,
        role: input.role,
        content: input.content,
        status: 'COMPLETED',
        toolCalls: (input.toolCalls ?? undefined) as Prisma.InputJsonValue | undefined,
        toolCallId: input.toolCallId ?? null,
        tokens,
        metadata: metadata as Prisma.InputJsonObject,
        completedAt: new Date(),
      }),
  });
  if (!replayed) publishMessageAdded(ctx, value);
  return value;
}

export type NewMessage = Omit<Prisma.MessageUncheckedCreateInput, 'position' | 'id'> & { chatSessionId: string | null };

/**
 * Inserts a message at the next position of an ACTIVE conversation and moves its counters, in the caller's
 * transaction. Incrementing messageCount locks the conversation row, so concurrent appends queue there and
 * positions stay gapless; a rolled-back append gives its position back.
 */
export async function insertMessage(ctx: ServiceContext, tx: Transaction, message: NewMessage): Promise<AppendedMessage> {
  const now = new Date();
  const tokens = message.tokens ?? 0;
  let conversation: Conversation;
  try {
    conversation = await tx.conversation.update({
      where: { id: message.conversationId, ...visibleTo(ctx), status: 'ACTIVE' },
      data: {
        messageCount: { increment: 1 },
        totalTokens: { increment: tokens },
        // A reply that is only starting has no text yet: the preview stays on the message before it.
        preview: message.status === 'STREAMING' ? undefined : previewOf(message.content ?? ''),
        lastMessageAt: now,
        updatedAt: now,
      },
    });
  } catch (error) {
    if (isPrismaError(error, 'P2025')) throw notFound('Conversation');
    throw error;
  }
  if (message.chatSessionId) {
    const { count } = await tx.chatSession.updateMany({
      where: { id: message.chatSessionId, conversationId: conversation.id, status: 'ACTIVE' },
      data: { updatedAt: now },
    });
    if (count === 0) throw invalidField('chatSessionId', 'the chat session is completed');
  }
  const created = await tx.message.create({
    data: { ...message, position: conversation.messageCount, createdAt: now },
  });
  return { message: created, conversation };
}

export function publishMessageAdded(ctx: ServiceContext, { message, conversation }: AppendedMessage): void {
  publishConversationEvent(ctx.pubsub, conversation, { type: 'MESSAGE_ADDED', conversationId: conversation.id, messageId: message.id });
}

async function checkChatSession(ctx: ServiceContext, conversationId: string, chatSessionId: string): Promise<void> {
  const session = await ctx.prisma.chatSession.findFirst({ where: { id: chatSessionId, conversation: visibleTo(ctx) } });
  if (!session) throw notFound('Chat session');
  if (session.conversationId !== conversationId) throw invalidField('chatSessionId', 'belongs to another conversation');
  if (session.status !== 'ACTIVE') throw invalidField('chatSessionId', 'the chat session is completed');
}

/** OpenAI's shape: [{ id, type: "function", function: { name, arguments: "<JSON text>" } }]. */
function checkToolCalls(toolCalls: unknown): void {
  const problem = toolCallsProblem(toolCalls);
  if (problem) throw badUserInput(`toolCalls: ${problem}`, [{ field: 'toolCalls', message: problem }]);
}

function toolCallsProblem(toolCalls: unknown): string | null {
  if (!Array.isArray(toolCalls) || toolCalls.length === 0) return 'must be a non-empty array of tool calls';
  for (const [i, call] of toolCalls.entries()) {
    const c = call as { id?: unknown; type?: unknown; function?: { name?: unknown; arguments?: unknown } };
    if (typeof c !== 'object' || c === null) return `[${i}] must be an object`;
    if (typeof c.id !== 'string' || c.id === '') return `[${i}].id must be a non-empty string`;
    if (c.type !== 'function') return `[${i}].type must be "function"`;
    if (typeof c.function?.name !== 'string' || c.function.name === '') return `[${i}].function.name must be a non-empty string`;
    if (typeof c.function.arguments !== 'string') return `[${i}].function.arguments must be a string (JSON text)`;
  }
  return null;
}

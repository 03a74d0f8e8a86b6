// Message rules: appending with gapless positions and consistent counters, tool-call shape, idempotency.
import type { MessageRole, Prisma } from '../generated/prisma/client.ts';
import type { Access, MessageDeps } from '../services.ts';
import { findOwnChatSession, findOwnConversation, findOwnMessage } from '../access.ts';
import { badUserInput, invalidField } from '../errors.ts';
import { idempotent } from '../idempotency.ts';
import { countTokens } from '../tokens.ts';
import { checkContent, checkLabel, checkMetadata, checkTokenCount, MAX_LABEL_CHARS } from '../validation.ts';
import { insertMessage, publishMessageAdded, type NewMessage, type Parent, type StoredMessage } from './store.ts';
import { chargeStored } from '../rate-limit.ts';

export type AppendMessageInput = {
  conversationId: string;
  role: MessageRole;
  content: string;
  toolCalls?: unknown;
  toolCallId?: string | null;
  tokens?: number | null;
  metadata?: unknown;
  chatSessionId?: string | null;
  /** Under this message instead of the current one (a new branch when it has children already). */
  parentMessageId?: string | null;
  idempotencyKey?: string | null;
};

export async function appendMessage(ctx: MessageDeps, input: AppendMessageInput): Promise<StoredMessage> {
  checkContent(input.content, ctx.config.maxMessageChars);
  checkTokenCount(input.tokens);
  checkLabel(input.toolCallId, 'toolCallId');
  if (input.role === 'TOOL' && input.toolCallId == null) throw invalidField('toolCallId', 'is required for TOOL messages');
  if (input.role !== 'TOOL' && input.toolCallId != null) throw invalidField('toolCallId', 'is only for TOOL messages');
  if (input.toolCalls != null) {
    if (input.role !== 'ASSISTANT') throw invalidField('toolCalls', 'are only for ASSISTANT messages');
    checkToolCalls(input.toolCalls, ctx.config.maxMessageChars);
  }
  const metadata = input.metadata == null ? {} : checkMetadata(input.metadata);
  // Counted by the server whatever the client says: what the message takes of a context window.
  const windowTokens = (await countTokens(input.content)) + (input.toolCalls != null ? await countTokens(JSON.stringify(input.toolCalls)) : 0);
  const tokens = input.tokens ?? windowTokens;
  if (input.chatSessionId != null) await checkChatSession(ctx, input.conversationId, input.chatSessionId);
  if (input.parentMessageId != null) await checkParentMessage(ctx, input.conversationId, input.parentMessageId);
  const { idempotencyKey, ...fields } = input;
  const message: NewMessage = {
    conversationId: input.conversationId,
    chatSessionId: input.chatSessionId ?? null,
    role: input.role,
    content: input.content,
    status: 'COMPLETED',
    toolCalls: (input.toolCalls ?? undefined) as Prisma.InputJsonValue | undefined,
    toolCallId: input.toolCallId ?? null,
    tokens,
    windowTokens,
    metadata: metadata as Prisma.InputJsonObject,
    completedAt: new Date(),
  };
  const parent: Parent = input.parentMessageId ? { messageId: input.parentMessageId } : 'current';

  const { value, replayed } = await idempotent<StoredMessage>({
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
    create: (tx) => insertMessage(ctx, tx, message, parent),
  });
  if (!replayed) {
    publishMessageAdded(ctx.pubsub, value);
    await chargeStored(ctx.rateLimiter, ctx.viewer, value.newLaneBytes ?? 0);
  }
  return value;
}

/** A parent named by a client: a message of that conversation (another owner's is as absent as a missing one). */
export async function checkParentMessage(ctx: Access, conversationId: string, parentMessageId: string): Promise<void> {
  const parent = await findOwnMessage(ctx, parentMessageId);
  if (parent.conversationId !== conversationId) throw invalidField('parentMessageId', 'is a message of another conversation');
}

async function checkChatSession(ctx: MessageDeps, conversationId: string, chatSessionId: string): Promise<void> {
  const session = await findOwnChatSession(ctx, chatSessionId);
  if (session.conversationId !== conversationId) throw invalidField('chatSessionId', 'belongs to another conversation');
  if (session.status !== 'ACTIVE') throw invalidField('chatSessionId', 'the chat session is completed');
}

/** Calls in one assistant message: models make a handful; the limit keeps the checks and the prompt small. */
export const MAX_TOOL_CALLS = 128;

/** OpenAI's shape: [{ id, type: "function", function: { name, arguments: "<JSON text>" } }]. */
function checkToolCalls(toolCalls: unknown, maxChars: number): void {
  const problem = toolCallsProblem(toolCalls) ?? (JSON.stringify(toolCalls).length > maxChars ? `must be at most ${maxChars} characters serialised` : null);
  if (problem) throw badUserInput(`toolCalls: ${problem}`, [{ field: 'toolCalls', message: problem }]);
}

function toolCallsProblem(toolCalls: unknown): string | null {
  if (!Array.isArray(toolCalls) || toolCalls.length === 0) return 'must be a non-empty array of tool calls';
  if (toolCalls.length > MAX_TOOL_CALLS) return `must hold at most ${MAX_TOOL_CALLS} tool calls`;
  const ids = new Set<string>();
  for (const [i, call] of toolCalls.entries()) {
    const c = call as { id?: unknown; type?: unknown; function?: { name?: unknown; arguments?: unknown } };
    if (typeof c !== 'object' || c === null) return `[${i}] must be an object`;
    if (typeof c.id !== 'string' || c.id === '' || c.id.length > MAX_LABEL_CHARS) return `[${i}].id must be a string of 1 to ${MAX_LABEL_CHARS} characters`;
    // Each call is answered by the result that names its id: two calls of one id would share one answer.
    if (ids.has(c.id)) return `[${i}].id is the id of an earlier call`;
    ids.add(c.id);
    if (c.type !== 'function') return `[${i}].type must be "function"`;
    if (typeof c.function?.name !== 'string' || c.function.name === '' || c.function.name.length > MAX_LABEL_CHARS) return `[${i}].function.name must be a string of 1 to ${MAX_LABEL_CHARS} characters`;
    if (typeof c.function.arguments !== 'string') return `[${i}].function.arguments must be a string (JSON text)`;
  }
  return null;
}

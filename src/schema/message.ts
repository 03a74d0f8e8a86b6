import { MessageRole, MessageStatus } from '../generated/prisma/enums.ts';
import type { Conversation as ConversationRow, Message as MessageRow } from '../generated/prisma/client.ts';
import { builder } from '../builder.ts';
import { inOwnConversation } from '../access.ts';
import { invalidField } from '../errors.ts';
import { saturatedInt } from '../validation.ts';
import { contextWindow } from '../messages/context-window.ts';
import { DEFAULT_MESSAGE_PAGE, messageCursor } from '../messages/pages.ts';
import { buildConnection, pageRequest } from '../pagination/connection.ts';
import { Conversation } from './conversation.ts';
import { FinishReasonEnum } from './tools.ts';
import { chargeCostly, chargeText } from './costly.ts';

/** The largest context window asked for: the largest models' (a window is that many tokens of text). */
const MAX_WINDOW_TOKENS = 1_000_000;

export const MessageRoleEnum = builder.enumType(MessageRole, { name: 'MessageRole' });
export const MessageStatusEnum = builder.enumType(MessageStatus, { name: 'MessageStatus' });

type Usage = { promptTokens: number; completionTokens: number; reasoningTokens: number | null; cachedPromptTokens: number | null };

const TokenUsage = builder.objectRef<Usage>('TokenUsage').implement({
  fields: (t) => ({
    promptTokens: t.exposeInt('promptTokens'),
    completionTokens: t.exposeInt('completionTokens'),
    totalTokens: t.int({ resolve: (usage) => saturatedInt(usage.promptTokens + usage.completionTokens) }),
    reasoningTokens: t.exposeInt('reasoningTokens', { nullable: true, description: 'Of the completion tokens, those spent reasoning (when the provider reports them).' }),
    cachedPromptTokens: t.exposeInt('cachedPromptTokens', { nullable: true, description: 'Of the prompt tokens, those read from the provider\'s cache (when it reports them).' }),
  }),
});

export const Message = builder.prismaNode('Message', {
  id: { field: 'id' },
  nullable: true,
  findUnique: (id, ctx) => ({ id, ...inOwnConversation(ctx.viewer) }),
  fields: (t) => ({
    conversation: t.field({
      type: Conversation,
      resolve: async (message, _args, ctx) => (await ctx.loaders.conversation.load(message.conversationId))!,
    }),
    position: t.exposeInt('position', { description: '1, 2, 3, … within its conversation: gapless, never reused, the total order.' }),
    role: t.expose('role', { type: MessageRoleEnum }),
    content: t.string({ description: 'While STREAMING: what has been persisted so far.', resolve: (message, _args, ctx) => chargeText(ctx, message.content, 'content') }),
    status: t.expose('status', { type: MessageStatusEnum, description: 'Non-assistant messages are COMPLETED.' }),
    model: t.exposeString('model', { nullable: true, description: 'Assistant messages: the model that wrote it.' }),
    toolCalls: t.expose('toolCalls', { type: 'JSON', nullable: true, description: 'Assistant tool-call requests, OpenAI shape.' }),
    toolCallId: t.exposeString('toolCallId', { nullable: true, description: 'TOOL messages: the call they answer.' }),
    isError: t.exposeBoolean('isError', { description: 'TOOL messages: the result is an error the tool reported.' }),
    reasoning: t.string({
      nullable: true,
      description: 'Assistant messages: the reasoning the model streamed, when it gave any.',
      resolve: (message, _args, ctx) => (message.reasoning === null ? null : chargeText(ctx, message.reasoning, 'reasoning')),
    }),
    finishReason: t.expose('finishReason', {
      type: FinishReasonEnum,
      nullable: true,
      description: 'Assistant messages: why the model stopped; null while STREAMING and when it did not finish (CANCELLED, INTERRUPTED).',
    }),
    tokens: t.exposeInt('tokens'),
    usage: t.field({
      type: TokenUsage,
      nullable: true,
      description: 'Assistant messages, when known.',
      resolve: ({ promptTokens, completionTokens, reasoningTokens, cachedPromptTokens }) =>
        promptTokens != null && completionTokens != null ? { promptTokens, completionTokens, reasoningTokens, cachedPromptTokens } : null,
    }),
    error: t.exposeString('error', { nullable: true, description: 'FAILED: why, in words fit for a user.' }),
    metadata: t.expose('metadata', { type: 'JSON' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    completedAt: t.expose('completedAt', { type: 'DateTime', nullable: true }),
  }),
});

export const MessageConnection = builder.connectionObject({ type: Message, name: 'MessageConnection' }, { name: 'MessageEdge' });

builder.prismaObjectFields('Conversation', (t) => ({
  messages: t.connection(
    {
      type: Message,
      description: 'By position, ascending.',
      args: { roles: t.arg({ type: [MessageRoleEnum] }) },
      resolve: async (conversation, args, ctx) => {
        const request = pageRequest(args, messageCursor, DEFAULT_MESSAGE_PAGE);
        const roles = args.roles?.length ? args.roles : null;
        const rows = await ctx.loaders.messagePage.load({ parent: 'conversation', parentId: conversation.id, request, roles });
        const totalCount = roles
          ? () => ctx.prisma.message.count({ where: { conversationId: conversation.id, role: { in: roles } } })
          : () => conversation.messageCount;
        return buildConnection(rows, request, (m: MessageRow) => [m.position] as [number], messageCursor, totalCount);
      },
    },
    MessageConnection,
  ),
  activeGeneration: t.field({
    type: Message,
    nullable: true,
    description: 'The assistant message now STREAMING, if any.',
    resolve: (conversation, _args, ctx) => ctx.loaders.activeGeneration.load(conversation.id),
  }),
  contextWindow: t.field({
    type: [Message],
    description: 'What the model would be sent: the system prompt always kept, oldest turns dropped first.',
    args: { maxTokens: t.arg.int({ required: true, description: `1 to ${MAX_WINDOW_TOKENS}.` }) },
    resolve: (conversation, { maxTokens }, ctx) => {
      if (maxTokens < 1 || maxTokens > MAX_WINDOW_TOKENS) throw invalidField('maxTokens', `must be from 1 to ${MAX_WINDOW_TOKENS}`);
      chargeCostly(ctx, 'contextWindow');
      return contextWindow(ctx.prisma, conversation as ConversationRow, maxTokens);
    },
  }),
}));

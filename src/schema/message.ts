import { MessageRole, type Conversation as ConversationRow, type Message as MessageRow } from '../generated/prisma/client.ts';
import { builder } from '../builder.ts';
import { inOwnConversation } from '../access.ts';
import { invalidField, notFound } from '../errors.ts';
import type { Context } from '../context.ts';
import { branchCountQuery } from '../messages/branch.ts';
import { distinctValues, saturatedInt } from '../validation.ts';
import { contextWindow } from '../messages/context-window.ts';
import { DEFAULT_MESSAGE_PAGE, messageCursor } from '../messages/pages.ts';
import { buildConnection, pageRequest } from '../pagination/connection.ts';
import { pageItems } from '../operation-cost.ts';
import { Conversation } from './conversation.ts';
import { FinishReasonEnum } from './tools.ts';
import { chargeCostly, chargeItems, MAX_RESPONSE_ITEMS } from './costly.ts';
import { readListValues, readPageValues, storedJson, storedText } from './stored-fields.ts';
import { fieldCountBelow, fieldsAt } from './selection.ts';
import { columnsFor, MESSAGE_COLUMNS } from './row-columns.ts';
import { OMIT_STORED_VALUES } from '../stored-values.ts';

/** The largest context window asked for: the largest models' (a window is that many tokens of text). */
const MAX_WINDOW_TOKENS = 1_000_000;

export const MessageRoleEnum = builder.enumType('MessageRole', {
  description: 'Who a message is from.',
  values: {
    SYSTEM: { description: 'Instructions for the model, kept in every context window.' },
    USER: { description: 'The person (or the client) talking to the model.' },
    ASSISTANT: { description: 'The model: a reply, tool calls, reasoning.' },
    TOOL: { description: 'The result of a tool call, answering toolCallId.' },
  } as const,
});
export const MessageStatusEnum = builder.enumType('MessageStatus', {
  description: 'Where a message is: only assistant replies are ever anything but COMPLETED.',
  values: {
    STREAMING: { description: 'Being generated; follow it with messageStream.' },
    COMPLETED: { description: 'Whole.' },
    FAILED: { description: 'The provider failed; the text it sent is kept, and error says why.' },
    CANCELLED: { description: 'Stopped by cancelGeneration (or a newer turn); the text so far is kept.' },
    INTERRUPTED: { description: 'Its server stopped while it streamed; the persisted text is kept.' },
  } as const,
});

type Usage = { promptTokens: number; completionTokens: number; reasoningTokens: number | null; cachedPromptTokens: number | null };

const TokenUsage = builder.objectRef<Usage>('TokenUsage').implement({
  description: 'Tokens a reply cost, as the provider reported them.',
  fields: (t) => ({
    promptTokens: t.exposeInt('promptTokens', { description: 'Tokens of the prompt sent.' }),
    completionTokens: t.exposeInt('completionTokens', { description: 'Tokens of the reply, reasoning and tool calls included.' }),
    totalTokens: t.int({ description: 'promptTokens + completionTokens.', resolve: (usage) => saturatedInt(usage.promptTokens + usage.completionTokens) }),
    reasoningTokens: t.exposeInt('reasoningTokens', { nullable: true, description: 'Of the completion tokens, those spent reasoning (when the provider reports them).' }),
    cachedPromptTokens: t.exposeInt('cachedPromptTokens', { nullable: true, description: 'Of the prompt tokens, those read from the provider\'s cache (when it reports them).' }),
  }),
});

export const Message = builder.prismaNode('Message', {
  description: 'A message of a conversation: a node of its tree of branches.',
  id: { field: 'id' },
  nullable: true,
  findUnique: (id, ctx) => ({ id, ...inOwnConversation(ctx.viewer) }),
  fields: (t) => ({
    conversation: t.field({
      type: Conversation,
      description: 'The conversation it belongs to.',
      resolve: async (message, _args, ctx) => (await ctx.loaders.conversation.load(message.conversationId))!,
    }),
    position: t.exposeInt('position', {
      description:
        'Its depth on its branch: 1, 2, 3, … from the first message, gapless along every branch; alternatives (siblings) share a position. ' +
        'Without edits or regenerations: the total order.',
    }),
    siblingIndex: t.exposeInt('siblingIndex', { description: "1-based among its parent's children (or the first messages), oldest first." }),
    role: t.expose('role', { type: MessageRoleEnum, description: 'Who it is from.' }),
    content: t.string({
      description: 'While STREAMING: what has been persisted so far.',
      resolve: (message, _args, ctx) => storedText(ctx, 'Message', message, 'content') as string | Promise<string>, // a column that is never null
    }),
    status: t.expose('status', { type: MessageStatusEnum, description: 'Non-assistant messages are COMPLETED.' }),
    model: t.exposeString('model', { nullable: true, description: 'Assistant messages: the model that wrote it.' }),
    toolCalls: t.field({ type: 'JSON', nullable: true, description: 'Assistant tool-call requests, OpenAI shape.', resolve: (message, _args, ctx) => storedJson(ctx, 'Message', message, 'toolCalls') }),
    toolCallId: t.exposeString('toolCallId', { nullable: true, description: 'TOOL messages: the call they answer.' }),
    isError: t.exposeBoolean('isError', { description: 'TOOL messages: the result is an error the tool reported.' }),
    reasoning: t.string({
      nullable: true,
      description: 'Assistant messages: the reasoning the model streamed, when it gave any.',
      resolve: (message, _args, ctx) => storedText(ctx, 'Message', message, 'reasoning'),
    }),
    finishReason: t.expose('finishReason', {
      type: FinishReasonEnum,
      nullable: true,
      description: 'Assistant messages: why the model stopped; null while STREAMING and when it did not finish (CANCELLED, INTERRUPTED).',
    }),
    tokens: t.exposeInt('tokens', { description: "Its size in tokens: the client's count, the provider's, or the server's (o200k)." }),
    usage: t.field({
      type: TokenUsage,
      nullable: true,
      description: 'Assistant messages, when known.',
      resolve: ({ promptTokens, completionTokens, reasoningTokens, cachedPromptTokens }) =>
        promptTokens != null && completionTokens != null ? { promptTokens, completionTokens, reasoningTokens, cachedPromptTokens } : null,
    }),
    error: t.exposeString('error', { nullable: true, description: 'FAILED: why, in words fit for a user.' }),
    metadata: t.field({ type: 'JSON', description: 'A JSON object of the client, at most 16 KiB serialised.', resolve: (message, _args, ctx) => storedJson(ctx, 'Message', message, 'metadata') }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was added.' }),
    completedAt: t.expose('completedAt', { type: 'DateTime', nullable: true, description: 'Assistant messages: when the reply ended; null while STREAMING.' }),
  }),
});

const parentKeyOf = (message: MessageRow) => ({ conversationId: message.conversationId, parentId: message.parentId });

// The tree: a message's parent and siblings (fields of Message that are Messages themselves).
builder.prismaObjectFields('Message', (t) => ({
  parent: t.field({
    type: Message,
    nullable: true,
    description: "The message it follows; null for a conversation's first message.",
    resolve: (message, _args, ctx) => (message.parentId ? ctx.loaders.message.load(message.parentId) : null),
  }),
  siblingCount: t.int({ description: 'How many versions this message has: its parent\'s children (or the first messages), itself included.', resolve: (message, _args, ctx) => ctx.loaders.siblingCount.load(parentKeyOf(message)) }),
  previousSibling: t.field({
    type: Message,
    nullable: true,
    description: 'The version before this one (siblingIndex - 1); null for the first.',
    resolve: (message, _args, ctx) => (message.siblingIndex > 1 ? ctx.loaders.sibling.load({ ...parentKeyOf(message), siblingIndex: message.siblingIndex - 1 }) : null),
  }),
  nextSibling: t.field({
    type: Message,
    nullable: true,
    description: 'The version after this one (siblingIndex + 1); null for the last.',
    resolve: (message, _args, ctx) => ctx.loaders.sibling.load({ ...parentKeyOf(message), siblingIndex: message.siblingIndex + 1 }),
  }),
}));

export const MessageConnection = builder.connectionObject(
  { type: Message, name: 'MessageConnection', description: 'A page of messages of one branch, by position.' },
  { name: 'MessageEdge', description: 'A message of a page, with its cursor.' },
);

builder.prismaObjectFields('Conversation', (t) => ({
  messages: t.connection(
    {
      type: Message,
      description: 'The branch ending at leafId (default: currentMessage), by position.',
      extensions: pageItems(DEFAULT_MESSAGE_PAGE),
      args: {
        roles: t.arg({ type: [MessageRoleEnum], description: 'Only messages of these roles (all when omitted or empty).' }),
        leafId: t.arg.globalID({ for: Message, description: 'A message of this conversation: the branch that ends there.' }),
      },
      resolve: async (conversation, args, ctx, info) => {
        const request = pageRequest(args, messageCursor, DEFAULT_MESSAGE_PAGE);
        const roles = distinctValues(args.roles, Object.keys(MessageRole).length, 'roles');
        const leaf = args.leafId ? await leafOf(ctx, conversation, args.leafId.id) : { id: conversation.currentMessageId, position: conversation.messageCount };
        const keyOf = (m: MessageRow) => [m.position] as [number];
        if (leaf.id === null) return buildConnection([], request, keyOf, messageCursor, 0);
        const branch = { conversationId: conversation.id, leafId: leaf.id };
        const columns = columnsFor(MESSAGE_COLUMNS, fieldsAt(info, ['edges', 'node']));
        const rows = await ctx.loaders.branchPage.load({ ...branch, request, roles, columns });
        chargeItems(ctx, rows.length, 'messages');
        const totalCount = roles
          ? async () => (await ctx.prisma.$queryRaw<{ count: number }[]>(branchCountQuery(branch, { roles })))[0].count
          : leaf.position; // a branch holds one message per position
        const page = buildConnection(rows, request, keyOf, messageCursor, totalCount);
        await readPageValues(ctx, info, 'Message', page);
        return page;
      },
    },
    MessageConnection,
  ),
  currentMessage: t.field({
    type: Message,
    nullable: true,
    description: 'The end of the branch shown; null while empty.',
    resolve: (conversation, _args, ctx) => (conversation.currentMessageId ? ctx.loaders.message.load(conversation.currentMessageId) : null),
  }),
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
    resolve: async (conversation, { maxTokens }, ctx, info) => {
      if (maxTokens < 1 || maxTokens > MAX_WINDOW_TOKENS) throw invalidField('maxTokens', `must be from 1 to ${MAX_WINDOW_TOKENS}`);
      chargeCostly(ctx, 'contextWindow');
      // Its system prompt is one of the conversation's stored values, which rows read for a response leave out.
      const whole = await ctx.prisma.conversation.findUniqueOrThrow({ where: { id: conversation.id } });
      // Its messages without their stored values, which their fields read within the response's limit: SYSTEM
      // messages are kept whatever maxTokens is, and a window may hold any number of them.
      const window = await contextWindow(ctx.prisma, whole, conversation.currentMessageId, maxTokens, { omit: OMIT_STORED_VALUES.message });
      // Counted before it ran as one message: its length is known only now. Each message resolves the fields
      // below it (pages below them count their rows as they come).
      chargeItems(ctx, window.length * Math.max(1, fieldCountBelow(info, MAX_RESPONSE_ITEMS)), 'contextWindow');
      await readListValues(ctx, info, [], 'Message', window);
      return window;
    },
  }),
}));

/** A leaf named by a client: a message of this conversation (another owner's is as absent as a missing one). */
async function leafOf(ctx: Context, conversation: ConversationRow, id: string): Promise<MessageRow> {
  const leaf = await ctx.loaders.message.load(id);
  if (!leaf) throw notFound('Message');
  if (leaf.conversationId !== conversation.id) throw invalidField('leafId', 'is a message of another conversation');
  return leaf;
}

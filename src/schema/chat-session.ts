import { ChatSessionStatus } from '../generated/prisma/enums.ts';
import type { ChatSession as ChatSessionRow, Message as MessageRow } from '../generated/prisma/client.ts';
import { builder } from '../builder.ts';
import { inOwnConversation } from '../access.ts';
import { chatSessionCursor, completeChatSession, createChatSession, DEFAULT_CHAT_SESSION_PAGE } from '../chat-sessions/service.ts';
import { DEFAULT_MESSAGE_PAGE, sessionMessageCursor } from '../messages/pages.ts';
import { buildConnection, pageRequest } from '../pagination/connection.ts';
import { Conversation } from './conversation.ts';
import { Message, MessageConnection } from './message.ts';

const ChatSessionStatusEnum = builder.enumType(ChatSessionStatus, { name: 'ChatSessionStatus' });

export const ChatSession = builder.prismaNode('ChatSession', {
  id: { field: 'id' },
  nullable: true,
  findUnique: (id, ctx) => ({ id, ...inOwnConversation(ctx.viewer) }),
  fields: (t) => ({
    conversation: t.field({
      type: Conversation,
      resolve: async (session, _args, ctx) => (await ctx.loaders.conversation.load(session.conversationId))!,
    }),
    model: t.exposeString('model'),
    status: t.expose('status', { type: ChatSessionStatusEnum }),
    messages: t.connection(
      {
        type: Message,
        description: 'By position, ascending (siblings, which share a position, oldest first), on every branch.',
        resolve: async (session, args, ctx) => {
          const request = pageRequest(args, sessionMessageCursor, DEFAULT_MESSAGE_PAGE);
          const rows = await ctx.loaders.sessionMessagePage.load({ chatSessionId: session.id, request });
          return buildConnection(rows, request, (m: MessageRow) => [m.position, m.id] as [number, string], sessionMessageCursor, () =>
            ctx.prisma.message.count({ where: { chatSessionId: session.id } }),
          );
        },
      },
      MessageConnection,
    ),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

builder.prismaObjectField('Message', 'chatSession', (t) =>
  t.field({
    type: ChatSession,
    nullable: true,
    resolve: (message, _args, ctx) => (message.chatSessionId ? ctx.loaders.chatSession.load(message.chatSessionId) : null),
  }),
);

const ChatSessionConnection = builder.connectionObject({ type: ChatSession, name: 'ChatSessionConnection' }, { name: 'ChatSessionEdge' });

builder.prismaObjectFields('Conversation', (t) => ({
  chatSessions: t.connection(
    {
      type: ChatSession,
      description: 'Oldest first.',
      resolve: async (conversation, args, ctx) => {
        const request = pageRequest(args, chatSessionCursor, DEFAULT_CHAT_SESSION_PAGE);
        const rows = await ctx.loaders.chatSessionPage.load({ conversationId: conversation.id, request });
        return buildConnection(rows, request, (s: ChatSessionRow) => [s.createdAt.getTime(), s.id] as [number, string], chatSessionCursor, () =>
          ctx.prisma.chatSession.count({ where: { conversationId: conversation.id } }),
        );
      },
    },
    ChatSessionConnection,
  ),
}));

const chatSessionPayload = (name: string) =>
  builder.objectRef<{ chatSession: ChatSessionRow }>(name).implement({
    fields: (t) => ({ chatSession: t.expose('chatSession', { type: ChatSession }) }),
  });
const CreateChatSessionPayload = chatSessionPayload('CreateChatSessionPayload');
const ChatSessionPayload = chatSessionPayload('ChatSessionPayload');

const CreateChatSessionInput = builder.inputType('CreateChatSessionInput', {
  fields: (t) => ({
    conversationId: t.globalID({ required: true, for: Conversation }),
    model: t.string({ required: true }),
  }),
});

const ChatSessionRefInput = builder.inputType('ChatSessionRefInput', {
  fields: (t) => ({ id: t.globalID({ required: true, for: ChatSession }) }),
});

builder.mutationFields((t) => ({
  createChatSession: t.field({
    type: CreateChatSessionPayload,
    args: { input: t.arg({ type: CreateChatSessionInput, required: true }) },
    resolve: async (_root, { input }, ctx) => ({
      chatSession: await createChatSession(ctx, { conversationId: input.conversationId.id, model: input.model }),
    }),
  }),
  completeChatSession: t.field({
    type: ChatSessionPayload,
    args: { input: t.arg({ type: ChatSessionRefInput, required: true }) },
    resolve: async (_root, { input }, ctx) => ({ chatSession: await completeChatSession(ctx, input.id.id) }),
  }),
}));

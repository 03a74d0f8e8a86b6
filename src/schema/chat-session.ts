import type { ChatSession as ChatSessionRow, Message as MessageRow } from '../generated/prisma/client.ts';
import { builder } from '../builder.ts';
import { inOwnConversation } from '../access.ts';
import { chatSessionCursor, completeChatSession, createChatSession, DEFAULT_CHAT_SESSION_PAGE } from '../chat-sessions/service.ts';
import { DEFAULT_MESSAGE_PAGE, sessionMessageCursor } from '../messages/pages.ts';
import { buildConnection, pageRequest } from '../pagination/connection.ts';
import { pageItems } from '../operation-cost.ts';
import { chargeItems } from './costly.ts';
import { readPageValues } from './stored-fields.ts';
import { Conversation } from './conversation.ts';
import { Message, MessageConnection } from './message.ts';

const ChatSessionStatusEnum = builder.enumType('ChatSessionStatus', {
  description: 'Whether a chat session takes new turns.',
  values: {
    ACTIVE: { description: 'Open: turns sent in it use its model.' },
    COMPLETED: { description: 'Closed by completeChatSession: it takes no new turn.' },
  } as const,
});

export const ChatSession = builder.prismaNode('ChatSession', {
  description: 'A run of turns in a conversation with a model of its own (a session of an agent, say).',
  id: { field: 'id' },
  nullable: true,
  findUnique: (id, ctx) => ({ id, ...inOwnConversation(ctx.viewer) }),
  fields: (t) => ({
    conversation: t.field({
      type: Conversation,
      description: 'The conversation it belongs to.',
      resolve: async (session, _args, ctx) => (await ctx.loaders.conversation.load(session.conversationId))!,
    }),
    model: t.exposeString('model', { description: 'The model its turns use unless a turn names another.' }),
    status: t.expose('status', { type: ChatSessionStatusEnum, description: 'ACTIVE or COMPLETED.' }),
    messages: t.connection(
      {
        type: Message,
        description: 'By position, ascending (siblings, which share a position, oldest first), on every branch.',
        extensions: pageItems(DEFAULT_MESSAGE_PAGE),
        resolve: async (session, args, ctx, info) => {
          const request = pageRequest(args, sessionMessageCursor, DEFAULT_MESSAGE_PAGE);
          const rows = await ctx.loaders.sessionMessagePage.load({ chatSessionId: session.id, request });
          chargeItems(ctx, rows.length, 'messages');
          const page = buildConnection(rows, request, (m: MessageRow) => [m.position, m.id] as [number, string], sessionMessageCursor, () =>
            ctx.prisma.message.count({ where: { chatSessionId: session.id } }),
          );
          await readPageValues(ctx, info, 'Message', page);
          return page;
        },
      },
      MessageConnection,
    ),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was created.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'When it last changed.' }),
  }),
});

builder.prismaObjectField('Message', 'chatSession', (t) =>
  t.field({
    type: ChatSession,
    nullable: true,
    description: 'The chat session it was sent in, if any.',
    resolve: (message, _args, ctx) => (message.chatSessionId ? ctx.loaders.chatSession.load(message.chatSessionId) : null),
  }),
);

const ChatSessionConnection = builder.connectionObject(
  { type: ChatSession, name: 'ChatSessionConnection', description: 'A page of chat sessions.' },
  { name: 'ChatSessionEdge', description: 'A chat session of a page, with its cursor.' },
);

builder.prismaObjectFields('Conversation', (t) => ({
  chatSessions: t.connection(
    {
      type: ChatSession,
      description: 'Oldest first.',
      extensions: pageItems(DEFAULT_CHAT_SESSION_PAGE),
      resolve: async (conversation, args, ctx) => {
        const request = pageRequest(args, chatSessionCursor, DEFAULT_CHAT_SESSION_PAGE);
        const rows = await ctx.loaders.chatSessionPage.load({ conversationId: conversation.id, request });
        chargeItems(ctx, rows.length, 'chatSessions');
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
    description: 'What a chat session mutation returns.',
    fields: (t) => ({ chatSession: t.expose('chatSession', { type: ChatSession, description: 'The chat session as the mutation left it.' }) }),
  });
const CreateChatSessionPayload = chatSessionPayload('CreateChatSessionPayload');
const ChatSessionPayload = chatSessionPayload('ChatSessionPayload');

const CreateChatSessionInput = builder.inputType('CreateChatSessionInput', {
  description: 'A new chat session.',
  fields: (t) => ({
    conversationId: t.globalID({ required: true, for: Conversation, description: 'The conversation it runs in.' }),
    model: t.string({ required: true, description: 'Its model: one of models.' }),
  }),
});

const ChatSessionRefInput = builder.inputType('ChatSessionRefInput', {
  description: 'A chat session, by its ID.',
  fields: (t) => ({ id: t.globalID({ required: true, for: ChatSession, description: 'The chat session.' }) }),
});

builder.mutationFields((t) => ({
  createChatSession: t.field({
    type: CreateChatSessionPayload,
    description: 'A new ACTIVE chat session in a conversation of the viewer.',
    args: { input: t.arg({ type: CreateChatSessionInput, required: true, description: 'Its conversation and model.' }) },
    resolve: async (_root, { input }, ctx) => ({
      chatSession: await createChatSession(ctx, { conversationId: input.conversationId.id, model: input.model }),
    }),
  }),
  completeChatSession: t.field({
    type: ChatSessionPayload,
    description: 'Closes a chat session: COMPLETED, it takes no new turn.',
    args: { input: t.arg({ type: ChatSessionRefInput, required: true, description: 'The chat session.' }) },
    resolve: async (_root, { input }, ctx) => ({ chatSession: await completeChatSession(ctx, input.id.id) }),
  }),
}));

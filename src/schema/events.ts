import { builder } from '../builder.ts';
import { refreshLoaders } from '../context.ts';
import { findOwnConversation, ownerKey } from '../access.ts';
import type { ConversationEventPayload } from '../pubsub.ts';
import { Conversation } from './conversation.ts';
import { Message } from './message.ts';
import { idOf } from './subscription-ids.ts';

const ConversationEventTypeEnum = builder.enumType('ConversationEventType', {
  values: ['CONVERSATION_CREATED', 'CONVERSATION_UPDATED', 'CONVERSATION_DELETED', 'MESSAGE_ADDED', 'MESSAGE_UPDATED'] as const,
});

const ConversationEvent = builder.objectRef<ConversationEventPayload>('ConversationEvent').implement({
  description: 'A change to a conversation. `conversation` is null once it has been purged.',
  fields: (t) => ({
    type: t.expose('type', { type: ConversationEventTypeEnum }),
    conversationId: t.globalID({ resolve: (event) => ({ type: 'Conversation', id: event.conversationId }) }),
    conversation: t.field({
      type: Conversation,
      nullable: true,
      resolve: (event, _args, ctx) => ctx.loaders.conversation.load(event.conversationId),
    }),
    message: t.field({
      type: Message,
      nullable: true,
      resolve: (event, _args, ctx) => (event.messageId ? ctx.loaders.message.load(event.messageId) : null),
    }),
  }),
});

function freshEvent(event: ConversationEventPayload, _args: unknown, ctx: Parameters<typeof refreshLoaders>[0]): ConversationEventPayload {
  refreshLoaders(ctx);
  return event;
}

builder.subscriptionFields((t) => ({
  conversationEvents: t.field({
    type: ConversationEvent,
    description: 'Every change to one conversation.',
    args: { conversationId: t.arg.id({ required: true }) },
    subscribe: async (_root, args, ctx) => {
      const conversationId = idOf(args.conversationId, 'Conversation');
      await findOwnConversation(ctx, conversationId); // NOT_FOUND for a missing or foreign conversation
      return ctx.pubsub.subscribe('conversation:events', conversationId);
    },
    resolve: freshEvent,
  }),
  conversationsChanged: t.field({
    type: ConversationEvent,
    description: "Every change to any of the viewer's conversations (for sidebars on several devices).",
    subscribe: (_root, _args, ctx) => ctx.pubsub.subscribe('owner:events', ownerKey(ctx.viewer)),
    resolve: freshEvent,
  }),
}));

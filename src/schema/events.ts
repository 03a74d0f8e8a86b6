import { builder } from '../builder.ts';
import { refreshLoaders } from '../context.ts';
import { findOwnConversation, ownerKey } from '../access.ts';
import type { ConversationEventPayload } from '../pubsub.ts';
import { Conversation } from './conversation.ts';
import { Message } from './message.ts';
import { idOf } from './subscription-ids.ts';

const ConversationEventTypeEnum = builder.enumType('ConversationEventType', {
  description: 'What changed.',
  values: {
    CONVERSATION_CREATED: { description: 'A new conversation (created or forked).' },
    CONVERSATION_UPDATED: { description: 'Its settings, title, status or branch shown changed.' },
    CONVERSATION_DELETED: { description: 'Deleted (conversation is DELETED, restorable) or purged (conversation is null: gone for good).' },
    MESSAGE_ADDED: { description: 'A message was added (message), on any branch.' },
    MESSAGE_UPDATED: { description: 'A message changed: a reply finished, say (message).' },
  } as const,
});

const ConversationEvent = builder.objectRef<ConversationEventPayload>('ConversationEvent').implement({
  description: 'A change to a conversation. `conversation` is null once it has been purged.',
  fields: (t) => ({
    type: t.expose('type', { type: ConversationEventTypeEnum, description: 'What changed.' }),
    conversationId: t.globalID({ description: 'The conversation, even once purged.', resolve: (event) => ({ type: 'Conversation', id: event.conversationId }) }),
    conversation: t.field({
      type: Conversation,
      nullable: true,
      description: 'The conversation as it is when the event is delivered; null once purged.',
      resolve: (event, _args, ctx) => ctx.loaders.conversation.load(event.conversationId),
    }),
    message: t.field({
      type: Message,
      nullable: true,
      description: 'MESSAGE_ADDED and MESSAGE_UPDATED: the message.',
      resolve: (event, _args, ctx) => (event.messageId ? ctx.loaders.message.load(event.messageId) : null),
    }),
  }),
});

function freshEvent(event: ConversationEventPayload, _args: unknown, ctx: Parameters<typeof refreshLoaders>[0]): ConversationEventPayload {
  refreshLoaders(ctx, event);
  return event;
}

builder.subscriptionFields((t) => ({
  conversationEvents: t.field({
    type: ConversationEvent,
    description: 'Every change to one conversation.',
    args: { conversationId: t.arg.id({ required: true, description: 'A conversation of the viewer.' }) },
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

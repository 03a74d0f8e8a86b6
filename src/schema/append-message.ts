// appendMessage: its input names a conversation and a chat session, so it sits after both types.
import type { Conversation as ConversationRow, Message as MessageRow } from '../generated/prisma/client.ts';
import { builder } from '../builder.ts';
import { appendMessage } from '../messages/service.ts';
import { Conversation } from './conversation.ts';
import { Message, MessageRoleEnum } from './message.ts';
import { ChatSession } from './chat-session.ts';

const AppendMessageInput = builder.inputType('AppendMessageInput', {
  fields: (t) => ({
    conversationId: t.globalID({ required: true, for: Conversation }),
    role: t.field({ type: MessageRoleEnum, required: true }),
    content: t.string({ required: true }),
    toolCalls: t.field({ type: 'JSON' }),
    toolCallId: t.string(),
    tokens: t.int({ description: 'Counted with the tokenizer when omitted.' }),
    metadata: t.field({ type: 'JSON' }),
    chatSessionId: t.globalID({ for: ChatSession }),
    parentMessageId: t.globalID({ for: Message, description: 'Add under this message instead of currentMessage (a new branch when it has children).' }),
    idempotencyKey: t.string(),
  }),
});

const AppendMessagePayload = builder.objectRef<{ message: MessageRow; conversation: ConversationRow }>('AppendMessagePayload').implement({
  fields: (t) => ({
    message: t.expose('message', { type: Message }),
    conversation: t.expose('conversation', { type: Conversation }),
  }),
});

builder.mutationField('appendMessage', (t) =>
  t.field({
    type: AppendMessagePayload,
    description: 'Stores a message as given; no generation.',
    args: { input: t.arg({ type: AppendMessageInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      appendMessage(ctx, {
        ...input,
        conversationId: input.conversationId.id,
        chatSessionId: input.chatSessionId?.id ?? null,
        parentMessageId: input.parentMessageId?.id ?? null,
      }),
  }),
);

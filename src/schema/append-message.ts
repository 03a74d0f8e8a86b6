// appendMessage: its input names a conversation and a chat session, so it sits after both types.
import type { Conversation as ConversationRow, Message as MessageRow } from '../generated/prisma/client.ts';
import { builder } from '../builder.ts';
import { appendMessage } from '../messages/service.ts';
import { Conversation } from './conversation.ts';
import { Message, MessageRoleEnum } from './message.ts';
import { ChatSession } from './chat-session.ts';

const AppendMessageInput = builder.inputType('AppendMessageInput', {
  description: 'A message stored as given: history imported, a tool result, a message of another source.',
  fields: (t) => ({
    conversationId: t.globalID({ required: true, for: Conversation, description: 'An ACTIVE conversation of the viewer.' }),
    role: t.field({ type: MessageRoleEnum, required: true, description: 'Who it is from.' }),
    content: t.string({ required: true, description: "Its text, up to the server's limit (100,000 characters by default)." }),
    toolCalls: t.field({ type: 'JSON', description: "ASSISTANT messages: tool calls in OpenAI's shape." }),
    toolCallId: t.string({ description: 'TOOL messages: the call this result answers.' }),
    tokens: t.int({ description: 'Counted with the tokenizer when omitted.' }),
    metadata: t.field({ type: 'JSON', description: 'A JSON object of the client, at most 16 KiB serialised.' }),
    chatSessionId: t.globalID({ for: ChatSession, description: 'An ACTIVE chat session of the conversation it belongs to.' }),
    parentMessageId: t.globalID({ for: Message, description: 'Add under this message instead of currentMessage (a new branch when it has children).' }),
    idempotencyKey: t.string({ description: 'A repeat with the same key returns the first result and stores nothing.' }),
  }),
});

const AppendMessagePayload = builder.objectRef<{ message: MessageRow; conversation: ConversationRow }>('AppendMessagePayload').implement({
  description: 'What appendMessage returns.',
  fields: (t) => ({
    message: t.expose('message', { type: Message, description: 'The message stored (now the current one).' }),
    conversation: t.expose('conversation', { type: Conversation, description: 'Its conversation, counters moved.' }),
  }),
});

builder.mutationField('appendMessage', (t) =>
  t.field({
    type: AppendMessagePayload,
    description: 'Stores a message as given; no generation.',
    args: { input: t.arg({ type: AppendMessageInput, required: true, description: 'The message.' }) },
    resolve: (_root, { input }, ctx) =>
      appendMessage(ctx, {
        ...input,
        conversationId: input.conversationId.id,
        chatSessionId: input.chatSessionId?.id ?? null,
        parentMessageId: input.parentMessageId?.id ?? null,
      }),
  }),
);

// sendMessage, cancelGeneration and the streams of assistant messages (messageStream, chat).
import type { Conversation as ConversationRow, Message as MessageRow } from '../generated/prisma/client.ts';
import { builder } from '../builder.ts';
import { refreshLoaders, type Context } from '../context.ts';
import { notFound } from '../errors.ts';
import { cancelGeneration, sendMessage } from '../generation/service.ts';
import { followMessage, openMessageStream, type MessageStreamPayload } from '../generation/stream.ts';
import { Conversation } from './conversation.ts';
import { Message } from './message.ts';
import { idOf } from './subscription-ids.ts';

const ActiveGenerationPolicy = builder.enumType('ActiveGenerationPolicy', {
  description: 'What sendMessage does when the conversation already has a STREAMING message.',
  values: {
    REJECT: { description: 'Answer GENERATION_IN_PROGRESS.' },
    INTERRUPT: { description: 'Cancel the running generation first.' },
  } as const,
});

// Plain IDs, decoded by idOf: this input is also the argument of the `chat` subscription.
const SendMessageInput = builder.inputType('SendMessageInput', {
  fields: (t) => ({
    conversationId: t.id({ required: true }),
    content: t.string({ required: true }),
    model: t.string({ description: "For this turn; defaults to the chat session's model, then the conversation's." }),
    chatSessionId: t.id(),
    idempotencyKey: t.string(),
    onActiveGeneration: t.field({ type: ActiveGenerationPolicy, defaultValue: 'REJECT' }),
  }),
});

const SendMessagePayload = builder
  .objectRef<{ userMessage: MessageRow; assistantMessage: MessageRow; conversation: ConversationRow }>('SendMessagePayload')
  .implement({
    fields: (t) => ({
      userMessage: t.expose('userMessage', { type: Message }),
      assistantMessage: t.expose('assistantMessage', { type: Message, description: 'STREAMING, empty: follow it with messageStream.' }),
      conversation: t.expose('conversation', { type: Conversation }),
    }),
  });

const CancelGenerationPayload = builder.objectRef<{ message: MessageRow }>('CancelGenerationPayload').implement({
  fields: (t) => ({ message: t.expose('message', { type: Message }) }),
});

const CancelGenerationInput = builder.inputType('CancelGenerationInput', {
  fields: (t) => ({ messageId: t.globalID({ required: true, for: Message }) }),
});

type SendArgs = { input: { conversationId: string | number; chatSessionId?: string | number | null } & Record<string, any> };
const sendInput = ({ input }: SendArgs) =>
  ({
    ...input,
    conversationId: idOf(input.conversationId, 'Conversation'),
    chatSessionId: input.chatSessionId == null ? null : idOf(input.chatSessionId, 'ChatSession'),
  }) as Parameters<typeof sendMessage>[1];

builder.mutationFields((t) => ({
  sendMessage: t.field({
    type: SendMessagePayload,
    description: 'Stores the user message, creates the STREAMING assistant message and starts generation; returns at once.',
    args: { input: t.arg({ type: SendMessageInput, required: true }) },
    resolve: (_root, args, ctx) => sendMessage(ctx, sendInput(args)),
  }),
  cancelGeneration: t.field({
    type: CancelGenerationPayload,
    description: 'Stops the generation wherever it runs, keeps the partial content, sets CANCELLED. A finished message is returned unchanged.',
    args: { input: t.arg({ type: CancelGenerationInput, required: true }) },
    resolve: async (_root, { input }, ctx) => ({ message: await cancelGeneration(ctx, input.messageId.id) }),
  }),
}));

// ---- stream events ----

const MessageStreamEvent = builder.interfaceRef<MessageStreamPayload>('MessageStreamEvent').implement({
  description: 'One numbered event of an assistant message: 0 MessageStarted, 1… MessageDelta, then MessageCompleted or MessageFailed.',
  fields: (t) => ({
    messageId: t.globalID({ resolve: ({ messageId }) => ({ type: 'Message', id: messageId }) }),
    sequenceNumber: t.int({ resolve: ({ event }) => event.sequenceNumber }),
  }),
  resolveType: ({ event }) => ({ started: 'MessageStarted', delta: 'MessageDelta', completed: 'MessageCompleted', failed: 'MessageFailed' })[event.type],
});

const loadMessage = async ({ messageId }: MessageStreamPayload, _args: unknown, ctx: Context) => {
  const message = await ctx.loaders.message.load(messageId);
  if (!message) throw notFound('Message'); // purged while its stream was followed
  return message;
};

builder.objectRef<MessageStreamPayload>('MessageStarted').implement({
  interfaces: [MessageStreamEvent],
  fields: (t) => ({ message: t.field({ type: Message, resolve: loadMessage }) }),
});

builder.objectRef<MessageStreamPayload>('MessageDelta').implement({
  interfaces: [MessageStreamEvent],
  fields: (t) => ({ delta: t.string({ resolve: ({ event }) => (event.type === 'delta' ? event.delta : '') }) }),
});

builder.objectRef<MessageStreamPayload>('MessageCompleted').implement({
  interfaces: [MessageStreamEvent],
  description: 'The message is COMPLETED, CANCELLED or INTERRUPTED; `message` carries all of it.',
  fields: (t) => ({ message: t.field({ type: Message, resolve: loadMessage }) }),
});

builder.objectRef<MessageStreamPayload>('MessageFailed').implement({
  interfaces: [MessageStreamEvent],
  fields: (t) => ({
    message: t.field({ type: Message, resolve: loadMessage }),
    code: t.string({ resolve: ({ event }) => (event.type === 'failed' ? event.code : 'PROVIDER_ERROR') }),
    error: t.string({ resolve: ({ event }) => (event.type === 'failed' ? event.error : '') }),
  }),
});

/**
 * Each event that carries the message re-reads it, so `message` is its state at that event, not the
 * subscription's start. Deltas carry no message and skip this: they are nearly every event.
 */
function freshPayload(payload: MessageStreamPayload, _args: unknown, ctx: Context): MessageStreamPayload {
  if (payload.event.type !== 'delta') refreshLoaders(ctx);
  return payload;
}

builder.subscriptionFields((t) => ({
  messageStream: t.field({
    type: MessageStreamEvent,
    description:
      'Events of one assistant message numbered above afterSequenceNumber (all when omitted): replayed, then live, with no gap or ' +
      'duplicate, ending after the terminal event. Long after it finished: the terminal event alone, carrying the whole message.',
    args: {
      messageId: t.arg.id({ required: true }),
      afterSequenceNumber: t.arg.int(),
    },
    subscribe: (_root, { messageId, afterSequenceNumber }, ctx) => openMessageStream(ctx, idOf(messageId, 'Message'), afterSequenceNumber ?? -1),
    resolve: freshPayload,
  }),
  chat: t.field({
    type: MessageStreamEvent,
    description: 'sendMessage and messageStream in one subscription.',
    args: { input: t.arg({ type: SendMessageInput, required: true }) },
    subscribe: async (_root, args, ctx) => {
      const { assistantMessage } = await sendMessage(ctx, sendInput(args));
      return followMessage(ctx, assistantMessage.id, -1);
    },
    resolve: freshPayload,
  }),
}));

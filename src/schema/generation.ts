// The turns that start a reply (sendMessage, generateReply, submitToolResults), cancelGeneration, and the
// streams of assistant messages (messageStream, chat).
import type { Conversation as ConversationRow, Message as MessageRow } from '../generated/prisma/client.ts';
import { builder } from '../builder.ts';
import { refreshLoaders, type Context } from '../context.ts';
import { notFound } from '../errors.ts';
import { cancelGeneration, generateReply, sendMessage, submitToolResults } from '../generation/service.ts';
import { followMessage, openMessageStream, type MessageStreamPayload } from '../generation/stream.ts';
import { Conversation } from './conversation.ts';
import { Message } from './message.ts';
import { idOf } from './subscription-ids.ts';
import { ChatSession } from './chat-session.ts';
import { ToolCall, ToolChoiceEnum, ToolInput } from './tools.ts';

export const ActiveGenerationPolicy = builder.enumType('ActiveGenerationPolicy', {
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
    tools: t.field({ type: [ToolInput], description: "Offered on this turn instead of the conversation's." }),
    toolChoice: t.field({ type: ToolChoiceEnum, defaultValue: 'AUTO' }),
    parentMessageId: t.id({ description: 'Add under this message instead of currentMessage (a new branch when it has children).' }),
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

type SendArgs = { input: { conversationId: string | number; chatSessionId?: string | number | null; parentMessageId?: string | number | null } & Record<string, any> };
const sendInput = ({ input }: SendArgs) =>
  ({
    ...input,
    conversationId: idOf(input.conversationId, 'Conversation'),
    chatSessionId: input.chatSessionId == null ? null : idOf(input.chatSessionId, 'ChatSession'),
    parentMessageId: input.parentMessageId == null ? null : idOf(input.parentMessageId, 'Message'),
  }) as Parameters<typeof sendMessage>[1];

const ToolResultInput = builder.inputType('ToolResultInput', {
  fields: (t) => ({
    toolCallId: t.string({ required: true }),
    content: t.string({ required: true }),
    isError: t.boolean({ defaultValue: false, description: 'The tool failed; content says how.' }),
  }),
});

const SubmitToolResultsInput = builder.inputType('SubmitToolResultsInput', {
  fields: (t) => ({
    messageId: t.globalID({ required: true, for: Message, description: 'The assistant message whose tool calls these answer.' }),
    results: t.field({ type: [ToolResultInput], required: true, description: 'One per call, each once.' }),
    generate: t.boolean({ defaultValue: true, description: 'Start the next reply at once, as sendMessage does.' }),
    model: t.string(),
    tools: t.field({ type: [ToolInput] }),
    toolChoice: t.field({ type: ToolChoiceEnum, defaultValue: 'AUTO' }),
    idempotencyKey: t.string(),
    onActiveGeneration: t.field({ type: ActiveGenerationPolicy, defaultValue: 'REJECT' }),
  }),
});

const SubmitToolResultsPayload = builder
  .objectRef<{ toolMessages: MessageRow[]; assistantMessage: MessageRow | null; conversation: ConversationRow }>('SubmitToolResultsPayload')
  .implement({
    fields: (t) => ({
      toolMessages: t.expose('toolMessages', { type: [Message], description: 'In the order of the calls.' }),
      assistantMessage: t.expose('assistantMessage', { type: Message, nullable: true, description: 'The next reply, STREAMING, unless generate was false.' }),
      conversation: t.expose('conversation', { type: Conversation }),
    }),
  });

const GenerateReplyInput = builder.inputType('GenerateReplyInput', {
  fields: (t) => ({
    conversationId: t.globalID({ required: true, for: Conversation }),
    model: t.string(),
    chatSessionId: t.globalID({ for: ChatSession }),
    tools: t.field({ type: [ToolInput] }),
    toolChoice: t.field({ type: ToolChoiceEnum, defaultValue: 'AUTO' }),
    idempotencyKey: t.string(),
    onActiveGeneration: t.field({ type: ActiveGenerationPolicy, defaultValue: 'REJECT' }),
  }),
});

const GenerateReplyPayload = builder.objectRef<{ assistantMessage: MessageRow; conversation: ConversationRow }>('GenerateReplyPayload').implement({
  fields: (t) => ({
    assistantMessage: t.expose('assistantMessage', { type: Message, description: 'STREAMING, empty: follow it with messageStream.' }),
    conversation: t.expose('conversation', { type: Conversation }),
  }),
});

builder.mutationFields((t) => ({
  submitToolResults: t.field({
    type: SubmitToolResultsPayload,
    description: 'Stores the results of an assistant message\'s tool calls and (with generate) starts the next reply.',
    args: { input: t.arg({ type: SubmitToolResultsInput, required: true }) },
    resolve: (_root, { input }, ctx) => submitToolResults(ctx, { ...input, messageId: input.messageId.id }),
  }),
  generateReply: t.field({
    type: GenerateReplyPayload,
    description: 'An assistant reply to the conversation as it stands, with the rules of sendMessage.',
    args: { input: t.arg({ type: GenerateReplyInput, required: true }) },
    resolve: (_root, { input }, ctx) => generateReply(ctx, { ...input, conversationId: input.conversationId.id, chatSessionId: input.chatSessionId?.id ?? null }),
  }),
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
  description:
    'One numbered event of an assistant message: 0 MessageStarted; then MessageDelta, MessageReasoningDelta, MessageToolCallDelta and ' +
    'MessageToolCall in the order the model produced them; then MessageCompleted or MessageFailed.',
  fields: (t) => ({
    messageId: t.globalID({ resolve: ({ messageId }) => ({ type: 'Message', id: messageId }) }),
    sequenceNumber: t.int({ resolve: ({ event }) => event.sequenceNumber }),
  }),
  resolveType: ({ event }) => EVENT_TYPES[event.type],
});

const EVENT_TYPES = {
  started: 'MessageStarted',
  delta: 'MessageDelta',
  reasoning: 'MessageReasoningDelta',
  toolCallDelta: 'MessageToolCallDelta',
  toolCall: 'MessageToolCall',
  completed: 'MessageCompleted',
  failed: 'MessageFailed',
} as const;

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

builder.objectRef<MessageStreamPayload>('MessageReasoningDelta').implement({
  interfaces: [MessageStreamEvent],
  description: 'A piece of the reasoning the model streams; the pieces concatenate to Message.reasoning.',
  fields: (t) => ({ delta: t.string({ resolve: ({ event }) => (event.type === 'reasoning' ? event.delta : '') }) }),
});

builder.objectRef<MessageStreamPayload>('MessageToolCallDelta').implement({
  interfaces: [MessageStreamEvent],
  description: "A piece of a tool call's arguments as the model writes them; a call's pieces concatenate to its arguments.",
  fields: (t) => ({
    toolCallId: t.string({ resolve: ({ event }) => (event.type === 'toolCallDelta' ? event.toolCallId : '') }),
    name: t.string({ resolve: ({ event }) => (event.type === 'toolCallDelta' ? event.name : '') }),
    argumentsDelta: t.string({ resolve: ({ event }) => (event.type === 'toolCallDelta' ? event.argumentsDelta : '') }),
  }),
});

builder.objectRef<MessageStreamPayload>('MessageToolCall').implement({
  interfaces: [MessageStreamEvent],
  description: 'A tool call, complete.',
  fields: (t) => ({
    toolCall: t.field({ type: ToolCall, resolve: ({ event }) => (event.type === 'toolCall' ? event.toolCall : { id: '', name: '', arguments: '' }) }),
  }),
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
 * subscription's start. The others (deltas, tool calls) carry no message and skip this: they are nearly every event.
 */
function freshPayload(payload: MessageStreamPayload, _args: unknown, ctx: Context): MessageStreamPayload {
  if (payload.event.type === 'started' || payload.event.type === 'completed' || payload.event.type === 'failed') refreshLoaders(ctx);
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

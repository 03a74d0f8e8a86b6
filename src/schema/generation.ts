// The turns that start a reply (sendMessage, generateReply, submitToolResults), cancelGeneration, and the
// streams of assistant messages (messageStream, chat).
import type { Conversation as ConversationRow, Message as MessageRow } from '../generated/prisma/client.ts';
import { builder } from '../builder.ts';
import { refreshLoaders, startEvent, type Context } from '../context.ts';
import { notFound } from '../errors.ts';
import { cancelGeneration, generateReply, sendMessage, submitToolResults } from '../generation/service.ts';
import { followMessage, openMessageStream, type MessageStreamPayload } from '../generation/stream.ts';
import { Conversation } from './conversation.ts';
import { Message } from './message.ts';
import { idOf } from './subscription-ids.ts';
import { ChatSession } from './chat-session.ts';
import { ToolCall, ToolChoiceEnum, ToolInput } from './tools.ts';
import { MAX_TOOL_CALLS } from '../messages/service.ts';
import { atMostItems } from '../operation-cost.ts';

export const ActiveGenerationPolicy = builder.enumType('ActiveGenerationPolicy', {
  description: 'What sendMessage does when the conversation already has a STREAMING message.',
  values: {
    REJECT: { description: 'Answer GENERATION_IN_PROGRESS.' },
    INTERRUPT: { description: 'Cancel the running generation first.' },
  } as const,
});

// Plain IDs, decoded by idOf: this input is also the argument of the `chat` subscription.
const SendMessageInput = builder.inputType('SendMessageInput', {
  description: 'A user message and the reply to generate.',
  fields: (t) => ({
    conversationId: t.id({ required: true, description: 'An ACTIVE conversation of the viewer.' }),
    content: t.string({ required: true, description: "The user message, up to the server's limit (100,000 characters by default)." }),
    model: t.string({ description: "For this turn; defaults to the chat session's model, then the conversation's." }),
    chatSessionId: t.id({ description: 'An ACTIVE chat session of the conversation: its model answers.' }),
    idempotencyKey: t.string({ description: 'A repeat with the same key returns the first result and starts nothing new; another input under it: CONFLICT.' }),
    onActiveGeneration: t.field({ type: ActiveGenerationPolicy, defaultValue: 'REJECT', description: 'What to do if a reply of this conversation is STREAMING.' }),
    tools: t.field({ type: [ToolInput], description: "Offered on this turn instead of the conversation's." }),
    toolChoice: t.field({ type: ToolChoiceEnum, defaultValue: 'AUTO', description: 'Whether the model may, must or must not call a tool.' }),
    parentMessageId: t.id({ description: 'Add under this message instead of currentMessage (a new branch when it has children).' }),
  }),
});

const SendMessagePayload = builder
  .objectRef<{ userMessage: MessageRow; assistantMessage: MessageRow; conversation: ConversationRow }>('SendMessagePayload')
  .implement({
    description: 'What sendMessage returns.',
    fields: (t) => ({
      userMessage: t.expose('userMessage', { type: Message, description: 'The user message stored.' }),
      assistantMessage: t.expose('assistantMessage', { type: Message, description: 'STREAMING, empty: follow it with messageStream.' }),
      conversation: t.expose('conversation', { type: Conversation, description: 'Its conversation, counters moved.' }),
    }),
  });

const CancelGenerationPayload = builder.objectRef<{ message: MessageRow }>('CancelGenerationPayload').implement({
  description: 'What cancelGeneration returns.',
  fields: (t) => ({ message: t.expose('message', { type: Message, description: 'The message, CANCELLED with its text so far (or as it finished).' }) }),
});

const CancelGenerationInput = builder.inputType('CancelGenerationInput', {
  description: 'A reply to stop.',
  fields: (t) => ({ messageId: t.globalID({ required: true, for: Message, description: 'The assistant message.' }) }),
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
  description: 'The result of one tool call.',
  fields: (t) => ({
    toolCallId: t.string({ required: true, description: 'The call it answers (ToolCall.id).' }),
    content: t.string({ required: true, description: 'What the tool returned, as text (JSON is fine).' }),
    isError: t.boolean({ defaultValue: false, description: 'The tool failed; content says how.' }),
  }),
});

const SubmitToolResultsInput = builder.inputType('SubmitToolResultsInput', {
  description: "Results for every tool call of an assistant message, and the next reply's settings.",
  fields: (t) => ({
    messageId: t.globalID({ required: true, for: Message, description: 'The assistant message whose tool calls these answer.' }),
    results: t.field({ type: [ToolResultInput], required: true, description: 'One per call, each once.' }),
    generate: t.boolean({ defaultValue: true, description: 'Start the next reply at once, as sendMessage does.' }),
    model: t.string({ description: "For this turn; defaults to the conversation's model." }),
    tools: t.field({ type: [ToolInput], description: "Offered on this turn instead of the conversation's." }),
    toolChoice: t.field({ type: ToolChoiceEnum, defaultValue: 'AUTO', description: 'Whether the model may, must or must not call a tool.' }),
    idempotencyKey: t.string({ description: 'A repeat with the same key returns the first result and starts nothing new; another input under it: CONFLICT.' }),
    onActiveGeneration: t.field({ type: ActiveGenerationPolicy, defaultValue: 'REJECT', description: 'What to do if a reply of this conversation is STREAMING.' }),
  }),
});

const SubmitToolResultsPayload = builder
  .objectRef<{ toolMessages: MessageRow[]; assistantMessage: MessageRow | null; conversation: ConversationRow }>('SubmitToolResultsPayload')
  .implement({
    description: 'What submitToolResults returns.',
    fields: (t) => ({
      toolMessages: t.expose('toolMessages', { type: [Message], description: 'In the order of the calls.', extensions: atMostItems(MAX_TOOL_CALLS) }),
      assistantMessage: t.expose('assistantMessage', { type: Message, nullable: true, description: 'The next reply, STREAMING, unless generate was false.' }),
      conversation: t.expose('conversation', { type: Conversation, description: 'Its conversation, counters moved.' }),
    }),
  });

const GenerateReplyInput = builder.inputType('GenerateReplyInput', {
  description: 'A reply to generate for the conversation as it stands.',
  fields: (t) => ({
    conversationId: t.globalID({ required: true, for: Conversation, description: 'An ACTIVE conversation of the viewer.' }),
    model: t.string({ description: "For this turn; defaults to the conversation's model." }),
    chatSessionId: t.globalID({ for: ChatSession, description: 'An ACTIVE chat session of the conversation: its model answers.' }),
    tools: t.field({ type: [ToolInput], description: "Offered on this turn instead of the conversation's." }),
    toolChoice: t.field({ type: ToolChoiceEnum, defaultValue: 'AUTO', description: 'Whether the model may, must or must not call a tool.' }),
    idempotencyKey: t.string({ description: 'A repeat with the same key returns the first result and starts nothing new; another input under it: CONFLICT.' }),
    onActiveGeneration: t.field({ type: ActiveGenerationPolicy, defaultValue: 'REJECT', description: 'What to do if a reply of this conversation is STREAMING.' }),
  }),
});

const GenerateReplyPayload = builder.objectRef<{ assistantMessage: MessageRow; conversation: ConversationRow }>('GenerateReplyPayload').implement({
  description: 'What generateReply returns.',
  fields: (t) => ({
    assistantMessage: t.expose('assistantMessage', { type: Message, description: 'STREAMING, empty: follow it with messageStream.' }),
    conversation: t.expose('conversation', { type: Conversation, description: 'Its conversation, counters moved.' }),
  }),
});

builder.mutationFields((t) => ({
  submitToolResults: t.field({
    type: SubmitToolResultsPayload,
    description: 'Stores the results of an assistant message\'s tool calls and (with generate) starts the next reply.',
    args: { input: t.arg({ type: SubmitToolResultsInput, required: true, description: 'The results.' }) },
    resolve: (_root, { input }, ctx) => submitToolResults(ctx, { ...input, messageId: input.messageId.id }),
  }),
  generateReply: t.field({
    type: GenerateReplyPayload,
    description: 'An assistant reply to the conversation as it stands, with the rules of sendMessage.',
    args: { input: t.arg({ type: GenerateReplyInput, required: true, description: 'The conversation and the turn\'s settings.' }) },
    resolve: (_root, { input }, ctx) => generateReply(ctx, { ...input, conversationId: input.conversationId.id, chatSessionId: input.chatSessionId?.id ?? null }),
  }),
  sendMessage: t.field({
    type: SendMessagePayload,
    description: 'Stores the user message, creates the STREAMING assistant message and starts generation; returns at once.',
    args: { input: t.arg({ type: SendMessageInput, required: true, description: 'The message and the turn\'s settings.' }) },
    resolve: (_root, args, ctx) => sendMessage(ctx, sendInput(args)),
  }),
  cancelGeneration: t.field({
    type: CancelGenerationPayload,
    description: 'Stops the generation wherever it runs, keeps the partial content, sets CANCELLED. A finished message is returned unchanged.',
    args: { input: t.arg({ type: CancelGenerationInput, required: true, description: 'The reply.' }) },
    resolve: async (_root, { input }, ctx) => ({ message: await cancelGeneration(ctx, input.messageId.id) }),
  }),
}));

// ---- stream events ----

const MessageStreamEvent = builder.interfaceRef<MessageStreamPayload>('MessageStreamEvent').implement({
  description:
    'One numbered event of an assistant message: 0 MessageStarted; then MessageDelta, MessageReasoningDelta, MessageToolCallDelta and ' +
    'MessageToolCall in the order the model produced them; then MessageCompleted or MessageFailed.',
  fields: (t) => ({
    messageId: t.globalID({ description: 'The assistant message.', resolve: ({ messageId }) => ({ type: 'Message', id: messageId }) }),
    sequenceNumber: t.int({ description: 'Its number: 0, 1, 2, … with no gap; resume with afterSequenceNumber.', resolve: ({ event }) => event.sequenceNumber }),
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
  description: 'The first event (0): the message as it starts.',
  fields: (t) => ({ message: t.field({ type: Message, description: 'The message, STREAMING.', resolve: loadMessage }) }),
});

builder.objectRef<MessageStreamPayload>('MessageDelta').implement({
  interfaces: [MessageStreamEvent],
  description: 'A piece of the text; the pieces concatenate to Message.content.',
  fields: (t) => ({ delta: t.string({ description: 'The text added.', resolve: ({ event }) => (event.type === 'delta' ? event.delta : '') }) }),
});

builder.objectRef<MessageStreamPayload>('MessageReasoningDelta').implement({
  interfaces: [MessageStreamEvent],
  description: 'A piece of the reasoning the model streams; the pieces concatenate to Message.reasoning.',
  fields: (t) => ({ delta: t.string({ description: 'The reasoning added.', resolve: ({ event }) => (event.type === 'reasoning' ? event.delta : '') }) }),
});

builder.objectRef<MessageStreamPayload>('MessageToolCallDelta').implement({
  interfaces: [MessageStreamEvent],
  description: "A piece of a tool call's arguments as the model writes them; a call's pieces concatenate to its arguments.",
  fields: (t) => ({
    toolCallId: t.string({ description: 'The call it belongs to.', resolve: ({ event }) => (event.type === 'toolCallDelta' ? event.toolCallId : '') }),
    name: t.string({ description: 'The tool called.', resolve: ({ event }) => (event.type === 'toolCallDelta' ? event.name : '') }),
    argumentsDelta: t.string({ description: 'The arguments text added.', resolve: ({ event }) => (event.type === 'toolCallDelta' ? event.argumentsDelta : '') }),
  }),
});

builder.objectRef<MessageStreamPayload>('MessageToolCall').implement({
  interfaces: [MessageStreamEvent],
  description: 'A tool call, complete.',
  fields: (t) => ({
    toolCall: t.field({ type: ToolCall, description: 'The call: its ID, tool and arguments.', resolve: ({ event }) => (event.type === 'toolCall' ? event.toolCall : { id: '', name: '', arguments: '' }) }),
  }),
});

builder.objectRef<MessageStreamPayload>('MessageCompleted').implement({
  interfaces: [MessageStreamEvent],
  description: 'The message is COMPLETED, CANCELLED or INTERRUPTED; `message` carries all of it.',
  fields: (t) => ({ message: t.field({ type: Message, description: 'The message as it ended: the whole of it.', resolve: loadMessage }) }),
});

builder.objectRef<MessageStreamPayload>('MessageFailed').implement({
  interfaces: [MessageStreamEvent],
  description: 'The message is FAILED: the provider failed; the text it sent is kept.',
  fields: (t) => ({
    message: t.field({ type: Message, description: 'The message as it ended: the whole of it.', resolve: loadMessage }),
    code: t.string({ description: 'PROVIDER_ERROR.', resolve: ({ event }) => (event.type === 'failed' ? event.code : 'PROVIDER_ERROR') }),
    error: t.string({ description: 'Why, in words fit for a user.', resolve: ({ event }) => (event.type === 'failed' ? event.error : '') }),
  }),
});

/**
 * Each event that carries the message re-reads it, so `message` is its state at that event, not the
 * subscription's start. The others (deltas, tool calls) carry no message and skip this: they are nearly every event.
 */
function freshPayload(payload: MessageStreamPayload, _args: unknown, ctx: Context): MessageStreamPayload {
  if (payload.event.type === 'started' || payload.event.type === 'completed' || payload.event.type === 'failed') refreshLoaders(ctx, payload.event);
  else startEvent(ctx);
  return payload;
}

builder.subscriptionFields((t) => ({
  messageStream: t.field({
    type: MessageStreamEvent,
    description:
      'Events of one assistant message numbered above afterSequenceNumber (all when omitted): replayed, then live, with no gap or ' +
      'duplicate, ending after the terminal event. Long after it finished: the terminal event alone, carrying the whole message.',
    args: {
      messageId: t.arg.id({ required: true, description: "An assistant message of the viewer's." }),
      afterSequenceNumber: t.arg.int({ description: 'The last number the client has: only later events come (all when omitted).' }),
    },
    subscribe: (_root, { messageId, afterSequenceNumber }, ctx) => openMessageStream(ctx, idOf(messageId, 'Message'), afterSequenceNumber ?? -1),
    resolve: freshPayload,
  }),
  chat: t.field({
    type: MessageStreamEvent,
    description: 'sendMessage and messageStream in one subscription.',
    args: { input: t.arg({ type: SendMessageInput, required: true, description: 'The message and the turn\'s settings.' }) },
    subscribe: async (_root, args, ctx) => {
      const { assistantMessage } = await sendMessage(ctx, sendInput(args));
      return followMessage(ctx, assistantMessage.id, -1);
    },
    resolve: freshPayload,
  }),
}));

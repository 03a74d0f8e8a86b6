// Branches: editMessage, regenerateMessage, switchBranch, forkConversation.
import type { Conversation as ConversationRow, Message as MessageRow } from '../generated/prisma/client.ts';
import { builder } from '../builder.ts';
import { editMessage, regenerateMessage } from '../generation/branch-turns.ts';
import { forkConversation, switchBranch } from '../conversations/branches.ts';
import { Conversation, ConversationPayload, conversationPayload } from './conversation.ts';
import { Message } from './message.ts';
import { ActiveGenerationPolicy } from './generation.ts';
import { ToolChoiceEnum, ToolInput } from './tools.ts';

const EditMessageInput = builder.inputType('EditMessageInput', {
  description: 'New text for a user message, as a new version of it.',
  fields: (t) => ({
    messageId: t.globalID({ required: true, for: Message, description: 'A USER message.' }),
    content: t.string({ required: true, description: 'The new text.' }),
    generate: t.boolean({ defaultValue: true, description: 'Start a reply to the new text, as sendMessage does.' }),
    model: t.string({ description: "For the reply; defaults to the conversation's model." }),
    tools: t.field({ type: [ToolInput], description: "Offered on this turn instead of the conversation's." }),
    toolChoice: t.field({ type: ToolChoiceEnum, defaultValue: 'AUTO', description: 'Whether the model may, must or must not call a tool.' }),
    idempotencyKey: t.string({ description: 'A repeat with the same key returns the first result and starts nothing new; another input under it: CONFLICT.' }),
    onActiveGeneration: t.field({ type: ActiveGenerationPolicy, defaultValue: 'REJECT', description: 'What to do if a reply of this conversation is STREAMING.' }),
  }),
});

const EditMessagePayload = builder
  .objectRef<{ userMessage: MessageRow; assistantMessage: MessageRow | null; conversation: ConversationRow }>('EditMessagePayload')
  .implement({
    description: 'What editMessage returns.',
    fields: (t) => ({
      userMessage: t.expose('userMessage', { type: Message, description: "The edited text: the original's sibling, now current." }),
      assistantMessage: t.expose('assistantMessage', { type: Message, nullable: true, description: 'Its reply, STREAMING, unless generate was false.' }),
      conversation: t.expose('conversation', { type: Conversation, description: 'Its conversation, showing the new branch.' }),
    }),
  });

const RegenerateMessageInput = builder.inputType('RegenerateMessageInput', {
  description: 'A reply to generate again, as a new version of it.',
  fields: (t) => ({
    messageId: t.globalID({ required: true, for: Message, description: 'An ASSISTANT message that is not STREAMING.' }),
    model: t.string({ description: "Defaults to the original's model while it is served, then the conversation's." }),
    tools: t.field({ type: [ToolInput], description: "Offered on this turn instead of the conversation's." }),
    toolChoice: t.field({ type: ToolChoiceEnum, defaultValue: 'AUTO', description: 'Whether the model may, must or must not call a tool.' }),
    idempotencyKey: t.string({ description: 'A repeat with the same key returns the first result and starts nothing new; another input under it: CONFLICT.' }),
    onActiveGeneration: t.field({ type: ActiveGenerationPolicy, defaultValue: 'REJECT', description: 'What to do if a reply of this conversation is STREAMING.' }),
  }),
});

const RegenerateMessagePayload = builder.objectRef<{ assistantMessage: MessageRow; conversation: ConversationRow }>('RegenerateMessagePayload').implement({
  description: 'What regenerateMessage returns.',
  fields: (t) => ({
    assistantMessage: t.expose('assistantMessage', { type: Message, description: "The original's sibling, STREAMING, now current." }),
    conversation: t.expose('conversation', { type: Conversation, description: 'Its conversation, showing the new branch.' }),
  }),
});

const SwitchBranchInput = builder.inputType('SwitchBranchInput', {
  description: 'The branch to show.',
  fields: (t) => ({ messageId: t.globalID({ required: true, for: Message, description: 'The branch shown becomes the newest one through this message.' }) }),
});

const ForkConversationInput = builder.inputType('ForkConversationInput', {
  description: 'A branch to copy into a new conversation.',
  fields: (t) => ({
    messageId: t.globalID({ required: true, for: Message, description: 'The last message copied (not STREAMING).' }),
    title: t.string({ description: "Defaults to the source's." }),
    idempotencyKey: t.string({ description: 'A repeat with the same key returns the first result and starts nothing new; another input under it: CONFLICT.' }),
  }),
});

const ForkConversationPayload = conversationPayload('ForkConversationPayload');

builder.mutationFields((t) => ({
  editMessage: t.field({
    type: EditMessagePayload,
    description: 'A sibling of a USER message with new content becomes current; with generate, a reply starts as sendMessage would. The original stays.',
    args: { input: t.arg({ type: EditMessageInput, required: true, description: 'The message, its new text, and the turn\'s settings.' }) },
    resolve: (_root, { input }, ctx) => editMessage(ctx, { ...input, messageId: input.messageId.id }),
  }),
  regenerateMessage: t.field({
    type: RegenerateMessagePayload,
    description: 'A new assistant sibling, generated from the branch up to its parent (the history the original saw), becomes current.',
    args: { input: t.arg({ type: RegenerateMessageInput, required: true, description: 'The reply, and the turn\'s settings.' }) },
    resolve: (_root, { input }, ctx) => regenerateMessage(ctx, { ...input, messageId: input.messageId.id }),
  }),
  switchBranch: t.field({
    type: ConversationPayload,
    description: 'currentMessage becomes the newest leaf below the message (the most recent child at each step); +1 version.',
    args: { input: t.arg({ type: SwitchBranchInput, required: true, description: 'A message of the branch to show.' }) },
    resolve: async (_root, { input }, ctx) => ({ conversation: await switchBranch(ctx, input.messageId.id) }),
  }),
  forkConversation: t.field({
    type: ForkConversationPayload,
    description: "A new ACTIVE conversation holding copies of the branch from the first message to messageId, with the source's settings.",
    args: { input: t.arg({ type: ForkConversationInput, required: true, description: 'The last message to copy, and the title.' }) },
    resolve: async (_root, { input }, ctx) => ({ conversation: await forkConversation(ctx, { ...input, messageId: input.messageId.id }) }),
  }),
}));

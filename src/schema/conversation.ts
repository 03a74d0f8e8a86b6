import { ConversationStatus } from '../generated/prisma/enums.ts';
import type { Conversation as ConversationRow } from '../generated/prisma/client.ts';
import { builder } from '../builder.ts';
import { ownConversations } from '../access.ts';
import type { Tool as ToolShape } from '../tools.ts';
import { Tool, ToolInput } from './tools.ts';
import { saturatedInt } from '../validation.ts';
import { selectsField } from './selection.ts';
import { chargeCostly } from './costly.ts';
import {
  createConversation,
  listConversations,
  purgeConversation,
  transitionConversation,
  updateConversation,
  type LifecycleAction,
} from '../conversations/service.ts';

export const ConversationStatusEnum = builder.enumType(ConversationStatus, { name: 'ConversationStatus' });

export const ConversationOrderEnum = builder.enumType('ConversationOrder', {
  values: ['UPDATED_AT_DESC', 'UPDATED_AT_ASC', 'CREATED_AT_DESC', 'CREATED_AT_ASC', 'LAST_ACTIVITY_DESC'] as const,
});

export const Conversation = builder.prismaNode('Conversation', {
  id: { field: 'id' },
  // Another owner's conversation is as absent as a missing one.
  nullable: true,
  findUnique: (id, ctx) => ({ id, ...ownConversations(ctx.viewer) }),
  fields: (t) => ({
    title: t.exposeString('title', { nullable: true, description: 'At most 255 characters.' }),
    status: t.expose('status', { type: ConversationStatusEnum }),
    projectId: t.exposeString('projectId', { nullable: true }),
    agentId: t.exposeString('agentId', { nullable: true }),
    model: t.exposeString('model', { description: 'The model for new turns.' }),
    systemPrompt: t.exposeString('systemPrompt', { nullable: true }),
    metadata: t.expose('metadata', { type: 'JSON', description: 'A JSON object, at most 16 KiB serialised.' }),
    tools: t.field({ type: [Tool], description: 'Offered on every turn that gives no tools of its own; [] by default.', resolve: (conversation) => conversation.tools as unknown as ToolShape[] }),
    version: t.exposeInt('version', { description: 'Starts at 1; +1 on every change made through the conversation mutations.' }),
    messageCount: t.exposeInt('messageCount'),
    totalTokens: t.int({
      description: "Sum of its messages' tokens (shown as 2147483647 beyond it).",
      resolve: (conversation) => saturatedInt(conversation.totalTokens),
    }),
    preview: t.exposeString('preview', { nullable: true, description: "First 100 characters of the last message's content." }),
    lastMessageAt: t.expose('lastMessageAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'Also moves when a message is added.' }),
    archivedAt: t.expose('archivedAt', { type: 'DateTime', nullable: true }),
    deletedAt: t.expose('deletedAt', { type: 'DateTime', nullable: true }),
  }),
});

export const ConversationConnection = builder.connectionObject({ type: Conversation, name: 'ConversationConnection' }, { name: 'ConversationEdge' });

const ConversationFilter = builder.inputType('ConversationFilter', {
  fields: (t) => ({
    status: t.field({ type: [ConversationStatusEnum], description: 'Default [ACTIVE]; DELETED ones appear only when asked for.' }),
    projectId: t.string(),
    agentId: t.string(),
    search: t.string({ description: 'Case-insensitive; matches the title or any message content.' }),
    updatedAfter: t.field({ type: 'DateTime' }),
    updatedBefore: t.field({ type: 'DateTime' }),
  }),
});

builder.queryFields((t) => ({
  conversation: t.field({
    type: Conversation,
    nullable: true,
    args: { id: t.arg.globalID({ required: true, for: Conversation }) },
    resolve: (_root, { id }, ctx) => ctx.loaders.conversation.load(id.id),
  }),
  conversations: t.connection(
    {
      type: Conversation,
      args: {
        filter: t.arg({ type: ConversationFilter }),
        orderBy: t.arg({ type: ConversationOrderEnum, defaultValue: 'UPDATED_AT_DESC' }),
      },
      resolve: async (_root, args, ctx, info) => {
        if (args.filter?.search?.trim()) chargeCostly(ctx, 'conversations(filter: { search })');
        const page = await listConversations(ctx, args, { withTotal: selectsField(info, 'totalCount') });
        // Messages on the page ask for their conversation: these rows answer without another query.
        for (const { node } of page.edges) ctx.loaders.conversation.prime(node.id, node);
        return page;
      },
    },
    ConversationConnection,
  ),
}));

// ---- mutations ----

export const conversationPayload = (name: string) =>
  builder.objectRef<{ conversation: ConversationRow }>(name).implement({
    fields: (t) => ({ conversation: t.expose('conversation', { type: Conversation }) }),
  });
export const ConversationPayload = conversationPayload('ConversationPayload');
const CreateConversationPayload = conversationPayload('CreateConversationPayload');
const UpdateConversationPayload = conversationPayload('UpdateConversationPayload');
const PurgeConversationPayload = builder.objectRef<{ purgedConversationId: string }>('PurgeConversationPayload').implement({
  fields: (t) => ({ purgedConversationId: t.globalID({ resolve: ({ purgedConversationId }) => ({ type: 'Conversation', id: purgedConversationId }) }) }),
});

const CreateConversationInput = builder.inputType('CreateConversationInput', {
  fields: (t) => ({
    title: t.string(),
    projectId: t.string(),
    agentId: t.string(),
    model: t.string({ description: "Defaults to the server's default model." }),
    systemPrompt: t.string(),
    metadata: t.field({ type: 'JSON' }),
    tools: t.field({ type: [ToolInput], description: 'Offered to the model on every turn that gives none of its own.' }),
    idempotencyKey: t.string({ description: 'A repeat with the same key returns the first result (24 hours at least).' }),
  }),
});

const UpdateConversationInput = builder.inputType('UpdateConversationInput', {
  fields: (t) => ({
    id: t.globalID({ required: true, for: Conversation }),
    title: t.string(),
    model: t.string(),
    systemPrompt: t.string(),
    metadata: t.field({ type: 'JSON' }),
    tools: t.field({ type: [ToolInput], description: 'Replaces the list.' }),
    expectedVersion: t.int({ description: 'If the current version differs: CONFLICT and nothing changes.' }),
  }),
});

export const ConversationRefInput = builder.inputType('ConversationRefInput', {
  fields: (t) => ({ id: t.globalID({ required: true, for: Conversation }) }),
});

builder.mutationFields((t) => ({
  createConversation: t.field({
    type: CreateConversationPayload,
    args: { input: t.arg({ type: CreateConversationInput, required: true }) },
    resolve: async (_root, { input }, ctx) => ({ conversation: await createConversation(ctx, input) }),
  }),
  updateConversation: t.field({
    type: UpdateConversationPayload,
    args: { input: t.arg({ type: UpdateConversationInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      // An omitted field is left as it is; an explicit null clears it (or is refused where it can't be null).
      const { id, ...changes } = input;
      return { conversation: await updateConversation(ctx, { id: id.id, ...changes }) };
    },
  }),
  ...lifecycleMutation(t, 'archiveConversation', 'archive', 'ACTIVE → ARCHIVED.'),
  ...lifecycleMutation(t, 'unarchiveConversation', 'unarchive', 'ARCHIVED → ACTIVE.'),
  ...lifecycleMutation(t, 'deleteConversation', 'delete', 'Soft delete: DELETED, restorable.'),
  ...lifecycleMutation(t, 'restoreConversation', 'restore', 'DELETED → the status it had before.'),
  purgeConversation: t.field({
    type: PurgeConversationPayload,
    description: 'Permanent: the conversation, its messages and chat sessions are gone.',
    args: { input: t.arg({ type: ConversationRefInput, required: true }) },
    resolve: async (_root, { input }, ctx) => ({ purgedConversationId: await purgeConversation(ctx, input.id.id) }),
  }),
}));

type MutationFieldBuilder = Parameters<Parameters<typeof builder.mutationFields>[0]>[0];

function lifecycleMutation(t: MutationFieldBuilder, name: string, action: LifecycleAction, description: string) {
  return {
    [name]: t.field({
      type: ConversationPayload,
      description,
      args: { input: t.arg({ type: ConversationRefInput, required: true }) },
      resolve: async (_root, { input }, ctx) => ({ conversation: await transitionConversation(ctx, input.id.id, action) }),
    }),
  };
}

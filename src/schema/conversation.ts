import type { Conversation as ConversationRow } from '../generated/prisma/client.ts';
import { builder } from '../builder.ts';
import { ownConversations } from '../access.ts';
import { MAX_TOOLS, type Tool as ToolShape } from '../tools.ts';
import { Tool, ToolInput } from './tools.ts';
import { saturatedInt } from '../validation.ts';
import { fieldsAt, fieldsBelow, selectsField } from './selection.ts';
import { columnsFor, CONVERSATION_COLUMNS } from './row-columns.ts';
import { chargeCostly, chargeItems } from './costly.ts';
import { readPageValues, storedJson, storedText } from './stored-fields.ts';
import {
  createConversation,
  purgeConversation,
  transitionConversation,
  updateConversation,
  type LifecycleAction,
} from '../conversations/service.ts';
import { DEFAULT_CONVERSATION_PAGE, listConversations } from '../conversations/list.ts';
import { atMostItems, pageItems } from '../operation-cost.ts';
import { chargedByTime } from '../scans.ts';

export const ConversationStatusEnum = builder.enumType('ConversationStatus', {
  description: 'Where a conversation is in its lifecycle.',
  values: {
    ACTIVE: { description: 'Open: listed by default, takes new messages.' },
    ARCHIVED: { description: 'Put away: listed when asked for, takes no new messages; unarchive brings it back.' },
    DELETED: { description: 'Soft-deleted: listed only when asked for; restore brings it back, purge removes it for good.' },
  } as const,
});

export const ConversationOrderEnum = builder.enumType('ConversationOrder', {
  description: 'The order of a list of conversations; ties broken by ID.',
  values: {
    UPDATED_AT_DESC: { description: 'Most recently changed first (a rename or a new message moves it).' },
    UPDATED_AT_ASC: { description: 'Least recently changed first.' },
    CREATED_AT_DESC: { description: 'Newest first.' },
    CREATED_AT_ASC: { description: 'Oldest first.' },
    LAST_ACTIVITY_DESC: { description: 'Newest message first (creation time while empty); a rename does not move it.' },
  } as const,
});

export const Conversation = builder.prismaNode('Conversation', {
  description: "A conversation of the viewer's: its settings and counters, and its messages (a tree; one branch shown).",
  id: { field: 'id' },
  // Another owner's conversation is as absent as a missing one.
  nullable: true,
  findUnique: (id, ctx) => ({ id, ...ownConversations(ctx.viewer) }),
  fields: (t) => ({
    title: t.exposeString('title', { nullable: true, description: 'At most 255 characters.' }),
    status: t.expose('status', { type: ConversationStatusEnum, description: 'ACTIVE, ARCHIVED or DELETED.' }),
    projectId: t.exposeString('projectId', { nullable: true, description: "The client's own grouping (a project), to filter on." }),
    agentId: t.exposeString('agentId', { nullable: true, description: "The client's own agent this conversation belongs to, to filter on." }),
    model: t.exposeString('model', { description: 'The model for new turns.' }),
    systemPrompt: t.string({
      nullable: true,
      description: 'Sent first on every turn, before the messages.',
      resolve: (conversation, _args, ctx) => storedText(ctx, 'Conversation', conversation, 'systemPrompt'),
    }),
    metadata: t.field({ type: 'JSON', description: 'A JSON object, at most 16 KiB serialised.', resolve: (conversation, _args, ctx) => storedJson(ctx, 'Conversation', conversation, 'metadata') }),
    tools: t.field({
      type: [Tool],
      description: 'Offered on every turn that gives no tools of its own; [] by default.',
      extensions: atMostItems(MAX_TOOLS),
      resolve: async (conversation, _args, ctx) => {
        const tools = ((await storedJson(ctx, 'Conversation', conversation, 'tools')) ?? []) as ToolShape[];
        chargeItems(ctx, tools.length, 'tools');
        return tools;
      },
    }),
    version: t.exposeInt('version', { description: 'Starts at 1; +1 on every change made through the conversation mutations.' }),
    messageCount: t.exposeInt('messageCount', { description: 'The length of the branch shown (the position of currentMessage).' }),
    totalTokens: t.int({
      description: "Sum of its messages' tokens (shown as 2147483647 beyond it).",
      resolve: (conversation) => saturatedInt(conversation.totalTokens),
    }),
    preview: t.exposeString('preview', { nullable: true, description: "First 100 characters of the last message's content." }),
    lastMessageAt: t.expose('lastMessageAt', { type: 'DateTime', nullable: true, description: 'When its newest message (on any branch) was added; null while empty.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was created.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'Also moves when a message is added.' }),
    archivedAt: t.expose('archivedAt', { type: 'DateTime', nullable: true, description: 'When it was archived, while ARCHIVED.' }),
    deletedAt: t.expose('deletedAt', { type: 'DateTime', nullable: true, description: 'When it was deleted, while DELETED.' }),
  }),
});

export const ConversationConnection = builder.connectionObject(
  { type: Conversation, name: 'ConversationConnection', description: 'A page of conversations.' },
  { name: 'ConversationEdge', description: 'A conversation of a page, with its cursor.' },
);

const ConversationFilter = builder.inputType('ConversationFilter', {
  description: 'Which conversations a list holds; every condition given must hold.',
  fields: (t) => ({
    status: t.field({ type: [ConversationStatusEnum], description: 'Default [ACTIVE]; DELETED ones appear only when asked for.' }),
    projectId: t.string({ description: 'Only those of this project.' }),
    agentId: t.string({ description: 'Only those of this agent.' }),
    search: t.string({ description: 'Case-insensitive; matches the title or any message content.' }),
    updatedAfter: t.field({ type: 'DateTime', description: 'Only those changed after this time.' }),
    updatedBefore: t.field({ type: 'DateTime', description: 'Only those changed before this time.' }),
  }),
});

builder.queryFields((t) => ({
  conversation: t.field({
    type: Conversation,
    nullable: true,
    description: "One of the viewer's conversations; null if there is none with this ID (another's included).",
    args: { id: t.arg.globalID({ required: true, for: Conversation, description: 'Its global ID.' }) },
    resolve: (_root, { id }, ctx) => ctx.loaders.conversation.load(id.id),
  }),
  conversations: t.connection(
    {
      type: Conversation,
      description: "The viewer's conversations, a page at a time (20 by default).",
      extensions: pageItems(DEFAULT_CONVERSATION_PAGE),
      args: {
        filter: t.arg({ type: ConversationFilter, description: 'Default: ACTIVE ones.' }),
        orderBy: t.arg({ type: ConversationOrderEnum, defaultValue: 'UPDATED_AT_DESC', description: 'The order; a cursor belongs to the order it was made in.' }),
      },
      resolve: async (_root, args, ctx, info) => {
        const searching = Boolean(args.filter?.search?.trim());
        if (searching) chargeCostly(ctx, 'conversations(filter: { search })');
        // Messages below the page that ask for their conversation are answered from these rows, whole ones
        // then (a loader holds only whole rows): that costs less than reading them again.
        const wholeRows = fieldsBelow(info, ['edges', 'node']).has('conversation');
        const columns = wholeRows ? null : columnsFor(CONVERSATION_COLUMNS, fieldsAt(info, ['edges', 'node']));
        const list = () => listConversations(ctx, args, { withTotal: selectsField(info, 'totalCount'), columns });
        // A search reads every message the viewer stored, linearly (src/conversations/list.ts): charged by its time,
        // so that one with 10 MB of messages cannot keep searching at the request rate (60 ms each on the embedded
        // database, on the event loop); one at a time, as many at once would all run before the first was charged.
        const { page, whole } = searching ? await ctx.rateLimiter.oneAtATime(ctx.viewer, 'search', () => chargedByTime(ctx, list)) : await list();
        chargeItems(ctx, page.edges.length, 'conversations');
        if (whole) for (const { node } of page.edges) ctx.loaders.conversation.prime(node.id, node);
        await readPageValues(ctx, info, 'Conversation', page);
        return page;
      },
    },
    ConversationConnection,
  ),
}));

// ---- mutations ----

export const conversationPayload = (name: string) =>
  builder.objectRef<{ conversation: ConversationRow }>(name).implement({
    description: 'What a conversation mutation returns.',
    fields: (t) => ({ conversation: t.expose('conversation', { type: Conversation, description: 'The conversation as the mutation left it.' }) }),
  });
export const ConversationPayload = conversationPayload('ConversationPayload');
const CreateConversationPayload = conversationPayload('CreateConversationPayload');
const UpdateConversationPayload = conversationPayload('UpdateConversationPayload');
const PurgeConversationPayload = builder.objectRef<{ purgedConversationId: string }>('PurgeConversationPayload').implement({
  description: 'What purgeConversation returns: the ID of what is gone.',
  fields: (t) => ({ purgedConversationId: t.globalID({ description: 'The global ID of the conversation purged (evict it from caches).', resolve: ({ purgedConversationId }) => ({ type: 'Conversation', id: purgedConversationId }) }) }),
});

const CreateConversationInput = builder.inputType('CreateConversationInput', {
  description: 'A new conversation; every field is optional.',
  fields: (t) => ({
    title: t.string({ description: 'At most 255 characters; without one, the server names it after its first reply.' }),
    projectId: t.string({ description: "The client's own project, to filter on." }),
    agentId: t.string({ description: "The client's own agent, to filter on." }),
    model: t.string({ description: "Defaults to the server's default model." }),
    systemPrompt: t.string({ description: 'Sent first on every turn.' }),
    metadata: t.field({ type: 'JSON', description: 'A JSON object of the client, at most 16 KiB serialised.' }),
    tools: t.field({ type: [ToolInput], description: 'Offered to the model on every turn that gives none of its own.' }),
    idempotencyKey: t.string({ description: 'A repeat with the same key returns the first result (24 hours at least).' }),
  }),
});

const UpdateConversationInput = builder.inputType('UpdateConversationInput', {
  description: 'Changes to a conversation: a field left out stays as it is, null clears it (where it may be null).',
  fields: (t) => ({
    id: t.globalID({ required: true, for: Conversation, description: 'The conversation.' }),
    title: t.string({ description: 'At most 255 characters.' }),
    model: t.string({ description: 'The model for new turns: one of models.' }),
    systemPrompt: t.string({ description: 'Sent first on every turn.' }),
    metadata: t.field({ type: 'JSON', description: 'Replaces the object (at most 16 KiB serialised).' }),
    tools: t.field({ type: [ToolInput], description: 'Replaces the list.' }),
    expectedVersion: t.int({ description: 'If the current version differs: CONFLICT and nothing changes.' }),
  }),
});

export const ConversationRefInput = builder.inputType('ConversationRefInput', {
  description: 'A conversation, by its ID.',
  fields: (t) => ({ id: t.globalID({ required: true, for: Conversation, description: 'The conversation.' }) }),
});

builder.mutationFields((t) => ({
  createConversation: t.field({
    type: CreateConversationPayload,
    description: 'A new ACTIVE conversation of the viewer (CONVERSATION_CREATED).',
    args: { input: t.arg({ type: CreateConversationInput, required: true, description: 'What it starts with.' }) },
    resolve: async (_root, { input }, ctx) => ({ conversation: await createConversation(ctx, input) }),
  }),
  updateConversation: t.field({
    type: UpdateConversationPayload,
    description: 'Changes its title, model, system prompt, metadata or tools: +1 version (CONVERSATION_UPDATED).',
    args: { input: t.arg({ type: UpdateConversationInput, required: true, description: 'The changes.' }) },
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
    args: { input: t.arg({ type: ConversationRefInput, required: true, description: 'The conversation.' }) },
    resolve: async (_root, { input }, ctx) => ({ purgedConversationId: await purgeConversation(ctx, input.id.id) }),
  }),
}));

type MutationFieldBuilder = Parameters<Parameters<typeof builder.mutationFields>[0]>[0];

function lifecycleMutation(t: MutationFieldBuilder, name: string, action: LifecycleAction, description: string) {
  return {
    [name]: t.field({
      type: ConversationPayload,
      description,
      args: { input: t.arg({ type: ConversationRefInput, required: true, description: 'The conversation.' }) },
      resolve: async (_root, { input }, ctx) => ({ conversation: await transitionConversation(ctx, input.id.id, action) }),
    }),
  };
}

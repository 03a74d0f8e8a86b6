// Conversation rules: ownership, validation, versioning, lifecycle transitions (listing: list.ts).
import { Prisma, type Conversation, type ConversationStatus } from '../generated/prisma/client.ts';
import { findOwnConversation, ownConversations, ownerOf } from '../access.ts';
import type { ConversationDeps } from '../services.ts';
import { conflict, invalidField, notFound } from '../errors.ts';
import { idempotent } from '../idempotency.ts';
import { publishConversationEvent, type ConversationEventType } from '../pubsub.ts';
import { checkLabel, checkMetadata, checkModel, checkTitle, checkContent } from '../validation.ts';
import { checkTools } from '../tools.ts';
import { countTokens } from '../tokens.ts';

type ToolInput = Parameters<typeof checkTools>[0][number];

export type CreateConversationInput = {
  title?: string | null;
  projectId?: string | null;
  agentId?: string | null;
  model?: string | null;
  systemPrompt?: string | null;
  metadata?: unknown;
  tools?: ToolInput[] | null;
  idempotencyKey?: string | null;
};

export type UpdateConversationInput = {
  id: string;
  title?: string | null;
  model?: string | null;
  systemPrompt?: string | null;
  metadata?: unknown;
  tools?: ToolInput[] | null;
  expectedVersion?: number | null;
};

export async function createConversation(ctx: ConversationDeps, input: CreateConversationInput): Promise<Conversation> {
  checkTitle(input.title);
  checkLabel(input.projectId, 'projectId');
  checkLabel(input.agentId, 'agentId');
  if (input.model != null) checkModel(ctx.models, input.model);
  if (input.systemPrompt != null) checkContent(input.systemPrompt, ctx.config.maxMessageChars, 'systemPrompt');
  const metadata = input.metadata == null ? {} : checkMetadata(input.metadata);
  const tools = input.tools ? checkTools(input.tools) : [];
  const systemPromptTokens = input.systemPrompt ? await countTokens(input.systemPrompt) : null;
  const { idempotencyKey, ...fields } = input;

  const { value, replayed } = await idempotent<Conversation>({
    prisma: ctx.prisma,
    viewer: ctx.viewer,
    ttlMs: ctx.config.idempotencyTtlMs,
    operation: 'createConversation',
    key: idempotencyKey,
    input: fields,
    idOf: (conversation) => conversation.id,
    replay: (id) => findOwnConversation(ctx, id),
    create: (tx) =>
      tx.conversation.create({
        data: {
          ...ownerOf(ctx.viewer),
          title: input.title ?? null,
          projectId: input.projectId ?? null,
          agentId: input.agentId ?? null,
          model: input.model ?? ctx.models.defaultModelId,
          systemPrompt: input.systemPrompt ?? null,
          systemPromptTokens,
          metadata: metadata as Prisma.InputJsonObject,
          tools: tools as unknown as Prisma.InputJsonArray,
        },
      }),
  });
  if (!replayed) publish(ctx, value, 'CONVERSATION_CREATED');
  return value;
}

export async function updateConversation(ctx: ConversationDeps, input: UpdateConversationInput): Promise<Conversation> {
  const data: Prisma.ConversationUpdateInput = {};
  if (input.title !== undefined) {
    checkTitle(input.title);
    data.title = input.title;
  }
  if (input.model !== undefined) {
    if (input.model === null) throw invalidField('model', 'cannot be null');
    checkModel(ctx.models, input.model);
    data.model = input.model;
  }
  if (input.systemPrompt !== undefined) {
    if (input.systemPrompt !== null) checkContent(input.systemPrompt, ctx.config.maxMessageChars, 'systemPrompt');
    data.systemPrompt = input.systemPrompt;
    data.systemPromptTokens = input.systemPrompt ? await countTokens(input.systemPrompt) : null;
  }
  if (input.metadata !== undefined) data.metadata = checkMetadata(input.metadata) as Prisma.InputJsonObject;
  if (input.tools !== undefined) data.tools = (input.tools === null ? [] : checkTools(input.tools)) as unknown as Prisma.InputJsonArray;

  const current = await findOwnConversation(ctx, input.id);
  if (current.status === 'DELETED') throw notFound('Conversation');
  if (input.expectedVersion != null && input.expectedVersion !== current.version) throw versionConflict(current.version);
  if (Object.keys(data).length === 0) return current;

  // The version in the WHERE makes the check and the write one atomic step against concurrent writers.
  const version = input.expectedVersion ?? current.version;
  const { count } = await ctx.prisma.conversation.updateMany({
    where: { id: current.id, ...ownConversations(ctx.viewer), version, status: { not: 'DELETED' } },
    data: { ...data, version: { increment: 1 }, updatedAt: new Date() } as Prisma.ConversationUpdateManyMutationInput,
  });
  if (count === 0) {
    const now = await findOwnConversation(ctx, input.id);
    if (now.status === 'DELETED') throw notFound('Conversation');
    if (input.expectedVersion != null) throw versionConflict(now.version);
    return updateConversation(ctx, input); // lost a race with another writer: last write wins, so write again
  }
  const updated = await findOwnConversation(ctx, input.id);
  publish(ctx, updated, 'CONVERSATION_UPDATED');
  return updated;
}

const versionConflict = (version: number) => conflict(`The conversation has changed: its version is now ${version}`);

type Transition = {
  from: ConversationStatus[];
  /** Already where the action leads: answered with the conversation unchanged. */
  unchangedIn: ConversationStatus[];
  data: (c: Conversation) => Prisma.ConversationUpdateManyMutationInput;
  event: ConversationEventType;
};

const TRANSITIONS = {
  archive: { from: ['ACTIVE'], unchangedIn: ['ARCHIVED'], data: () => ({ status: 'ARCHIVED', archivedAt: new Date() }), event: 'CONVERSATION_UPDATED' },
  unarchive: { from: ['ARCHIVED'], unchangedIn: ['ACTIVE'], data: () => ({ status: 'ACTIVE', archivedAt: null }), event: 'CONVERSATION_UPDATED' },
  delete: { from: ['ACTIVE', 'ARCHIVED'], unchangedIn: ['DELETED'], data: () => ({ status: 'DELETED', deletedAt: new Date() }), event: 'CONVERSATION_DELETED' },
  // Back to where it was before the delete: an archived conversation comes back archived.
  restore: {
    from: ['DELETED'],
    unchangedIn: ['ACTIVE', 'ARCHIVED'],
    data: (c) => ({ status: c.archivedAt ? 'ARCHIVED' : 'ACTIVE', deletedAt: null }),
    event: 'CONVERSATION_UPDATED',
  },
} satisfies Record<string, Transition>;

export type LifecycleAction = keyof typeof TRANSITIONS;

/**
 * Moves a conversation along its lifecycle. Asking for the state it is already in returns it unchanged;
 * archiving or unarchiving a deleted conversation answers NOT_FOUND (restore it first).
 */
export async function transitionConversation(ctx: ConversationDeps, id: string, action: LifecycleAction): Promise<Conversation> {
  const transition: Transition = TRANSITIONS[action];
  const current = await findOwnConversation(ctx, id);
  if (transition.unchangedIn.includes(current.status)) return current;
  if (!transition.from.includes(current.status)) throw notFound('Conversation');
  const { count } = await ctx.prisma.conversation.updateMany({
    where: { id, ...ownConversations(ctx.viewer), status: current.status, version: current.version },
    data: { ...transition.data(current), version: { increment: 1 }, updatedAt: new Date() },
  });
  if (count === 0) return transitionConversation(ctx, id, action); // changed meanwhile: decide again
  // A deleted conversation generates nothing more: its running reply is cancelled (partial text kept).
  // After the status: a send that comes meanwhile is refused, so no reply can start behind this stop.
  if (action === 'delete') await ctx.stopGeneration(id);
  const updated = await findOwnConversation(ctx, id);
  publish(ctx, updated, transition.event);
  return updated;
}

/** Permanent: the conversation, its messages and sessions are gone. */
export async function purgeConversation(ctx: ConversationDeps, id: string): Promise<string> {
  const current = await findOwnConversation(ctx, id);
  // As for a delete: first no new sends, then the running reply stopped (its subscribers get the end).
  if (current.status !== 'DELETED') {
    await ctx.prisma.conversation.updateMany({ where: { id, ...ownConversations(ctx.viewer) }, data: { status: 'DELETED', deletedAt: new Date() } });
  }
  await ctx.stopGeneration(id);
  const { count } = await ctx.prisma.conversation.deleteMany({ where: { id, ...ownConversations(ctx.viewer) } });
  if (count === 0) throw notFound('Conversation');
  publishConversationEvent(ctx.pubsub, ownerOf(ctx.viewer), { type: 'CONVERSATION_DELETED', conversationId: id, messageId: null });
  return id;
}

function publish(ctx: Pick<ConversationDeps, 'pubsub'>, conversation: Conversation, type: ConversationEventType): void {
  publishConversationEvent(ctx.pubsub, conversation, { type, conversationId: conversation.id, messageId: null });
}

// Conversation rules: ownership, validation, versioning, lifecycle transitions, listing.
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
import { buildConnection, cursorCodec, isTimeAndId, pageRequest, type ConnectionArgs, type Connection, type PageRequest } from '../pagination/connection.ts';

export type ConversationOrder = 'UPDATED_AT_DESC' | 'UPDATED_AT_ASC' | 'CREATED_AT_DESC' | 'CREATED_AT_ASC' | 'LAST_ACTIVITY_DESC';

export type ConversationFilter = {
  status?: ConversationStatus[] | null;
  projectId?: string | null;
  agentId?: string | null;
  search?: string | null;
  updatedAfter?: Date | null;
  updatedBefore?: Date | null;
};

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

// ---- listing ----

const ORDER_FIELDS = {
  UPDATED_AT_DESC: ['updatedAt', 'desc'],
  UPDATED_AT_ASC: ['updatedAt', 'asc'],
  CREATED_AT_DESC: ['createdAt', 'desc'],
  CREATED_AT_ASC: ['createdAt', 'asc'],
  LAST_ACTIVITY_DESC: ['lastActivityAt', 'desc'],
} as const;
type OrderField = (typeof ORDER_FIELDS)[ConversationOrder][0];

const codecs = Object.fromEntries(
  Object.keys(ORDER_FIELDS).map((order) => [order, cursorCodec<[number, string]>(`conversations:${order}`, isTimeAndId)]),
) as Record<ConversationOrder, ReturnType<typeof cursorCodec<[number, string]>>>;

export const DEFAULT_CONVERSATION_PAGE = 20;

export async function listConversations(
  ctx: ConversationDeps,
  args: ConnectionArgs & { filter?: ConversationFilter | null; orderBy?: ConversationOrder | null },
  { withTotal = false, columns = null }: { withTotal?: boolean; columns?: readonly (keyof Conversation)[] | null } = {},
): Promise<Connection<Conversation>> {
  const order = args.orderBy ?? 'UPDATED_AT_DESC';
  const [field, direction] = ORDER_FIELDS[order];
  const codec = codecs[order];
  const request = pageRequest(args, codec, DEFAULT_CONVERSATION_PAGE);
  const filter = args.filter ?? {};
  const search = searchPattern(filter.search);
  const keyOf = (c: Conversation) => [c[field].getTime(), c.id] as [number, string];
  const readDirection = request.backward ? (direction === 'desc' ? 'asc' : 'desc') : direction;

  // A search with its total: one statement that matches once, for both the page and the count.
  if (search && withTotal) {
    const { rows, total } = await searchPageWithTotal(ctx, filter, search, { field, readDirection, request, later: direction === 'desc' ? '<' : '>' });
    return buildConnection(rows, request, keyOf, codec, () => total);
  }

  const where = filterWhere(ctx, filter, search);
  // Keyset bounds in the list's order: `after` keeps what sorts later, `before` what sorts earlier.
  const later = direction === 'desc' ? 'lt' : 'gt';
  const earlier = direction === 'desc' ? 'gt' : 'lt';
  const bounds: Prisma.ConversationWhereInput[] = [];
  if (request.after) bounds.push(beyond(field, request.after, later));
  if (request.before) bounds.push(beyond(field, request.before, earlier));
  // Rows read with some columns only are typed as whole ones (see src/schema/row-columns.ts).
  const rows = (await ctx.prisma.conversation.findMany({
    where: { AND: [where, ...bounds] },
    orderBy: [{ [field]: readDirection }, { id: readDirection }],
    take: request.limit + 1,
    ...(columns && { select: Object.fromEntries(columns.map((column) => [column, true])) }),
  })) as Conversation[];
  return buildConnection(rows, request, keyOf, codec, () => ctx.prisma.conversation.count({ where }));
}

/** The ILIKE pattern of a search (its wildcards escaped so they match themselves), or null for none. */
function searchPattern(search: string | null | undefined): string | null {
  const text = search?.trim();
  if (!text) return null;
  if (text.length > 200) throw invalidField('filter.search', 'must be at most 200 characters');
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

type SearchPage = {
  field: OrderField;
  readDirection: 'asc' | 'desc';
  request: PageRequest<[number, string]>;
  /** The comparison that keeps what sorts later in the list's order. */
  later: '<' | '>';
};

/**
 * The matches are found once (a materialised CTE: title, or any message's content, through the trigram
 * indexes) and both the page and the count are read from them. The total comes on a row of its own, so
 * it is there even when the page is empty.
 */
async function searchPageWithTotal(ctx: ConversationDeps, filter: ConversationFilter, pattern: string, { field, readDirection, request, later }: SearchPage) {
  const { orgId, userId } = ownerOf(ctx.viewer);
  const column = Prisma.raw(`"${field}"`);
  const conditions = [
    Prisma.sql`c."orgId" = ${orgId}`,
    Prisma.sql`c."userId" = ${userId}`,
    Prisma.sql`c."status"::text = ANY(${filter.status?.length ? filter.status : ['ACTIVE']}::text[])`,
    Prisma.sql`(c."title" ILIKE ${pattern} OR EXISTS (SELECT 1 FROM "Message" AS m WHERE m."conversationId" = c."id" AND m."content" ILIKE ${pattern}))`,
  ];
  if (filter.projectId != null) conditions.push(Prisma.sql`c."projectId" = ${filter.projectId}`);
  if (filter.agentId != null) conditions.push(Prisma.sql`c."agentId" = ${filter.agentId}`);
  if (filter.updatedAfter) conditions.push(Prisma.sql`c."updatedAt" > ${filter.updatedAfter}::timestamp(3)`);
  if (filter.updatedBefore) conditions.push(Prisma.sql`c."updatedAt" < ${filter.updatedBefore}::timestamp(3)`);
  const earlier = later === '<' ? '>' : '<';
  const bounds = [Prisma.sql`TRUE`];
  const beyondKey = ([time, id]: [number, string], op: string) => Prisma.sql`(p.${column}, p."id") ${Prisma.raw(op)} (${new Date(time)}::timestamp(3), ${id})`;
  if (request.after) bounds.push(beyondKey(request.after, later));
  if (request.before) bounds.push(beyondKey(request.before, earlier));
  const dir = Prisma.raw(readDirection.toUpperCase());
  const rows = await ctx.prisma.$queryRaw<(Conversation & { total: bigint; matched: boolean })[]>`
    WITH matched AS MATERIALIZED (SELECT c.* FROM "Conversation" AS c WHERE ${Prisma.join(conditions, ' AND ')})
    SELECT t.total, page.id IS NOT NULL AS matched, page.*
    FROM (SELECT count(*) AS total FROM matched) AS t
    LEFT JOIN LATERAL (
      SELECT p.* FROM matched AS p WHERE ${Prisma.join(bounds, ' AND ')}
      ORDER BY p.${column} ${dir}, p."id" ${dir} LIMIT ${request.limit + 1}
    ) AS page ON TRUE`;
  const total = Number(rows[0]?.total ?? 0);
  const page = rows.filter((row) => row.matched).map(({ total: _total, matched: _matched, ...conversation }) => conversation as Conversation);
  return { rows: page, total };
}

/** Rows strictly past (time, id) in the given direction: the keyset condition. */
function beyond(field: OrderField, [time, id]: [number, string], op: 'lt' | 'gt'): Prisma.ConversationWhereInput {
  const at = new Date(time);
  return { OR: [{ [field]: { [op]: at } }, { [field]: at, id: { [op]: id } }] };
}

function filterWhere(ctx: ConversationDeps, filter: ConversationFilter, search: string | null): Prisma.ConversationWhereInput {
  const where: Prisma.ConversationWhereInput = { ...ownConversations(ctx.viewer), status: { in: filter.status?.length ? filter.status : ['ACTIVE'] } };
  if (filter.projectId != null) where.projectId = filter.projectId;
  if (filter.agentId != null) where.agentId = filter.agentId;
  if (filter.updatedAfter || filter.updatedBefore) {
    where.updatedAt = { ...(filter.updatedAfter && { gt: filter.updatedAfter }), ...(filter.updatedBefore && { lt: filter.updatedBefore }) };
  }
  if (search) {
    // Prisma wraps `contains` in % itself: the pattern's own are taken off.
    const contains = search.slice(1, -1);
    where.OR = [
      { title: { contains, mode: 'insensitive' } },
      { messages: { some: { content: { contains, mode: 'insensitive' } } } },
    ];
  }
  return where;
}

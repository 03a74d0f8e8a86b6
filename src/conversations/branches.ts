// Branches of a conversation as a whole: switchBranch (which branch it shows) and forkConversation (a
// branch copied into a conversation of its own).
import { setImmediate } from 'node:timers/promises';
import { Prisma, type Conversation } from '../generated/prisma/client.ts';
import { findOwnConversation, findOwnMessage, ownerOf } from '../access.ts';
import type { ConversationDeps } from '../services.ts';
import { conflict, invalidField, notFound } from '../errors.ts';
import { idempotent, type Transaction } from '../idempotency.ts';
import { inTransaction } from '../transactions.ts';
import { publishConversationEvent } from '../pubsub.ts';
import { checkTitle } from '../validation.ts';
import { branchRowsQuery, type BranchRange } from '../messages/branch.ts';
import type { RateLimiter, RequestUnits } from '../rate-limit.ts';
import { ROW_BYTES, type StorageQuota } from '../storage-quota.ts';
import type { Config } from '../config.ts';
import { PREVIEW_CHARS, previewOf } from '../messages/preview.ts';

/**
 * Shows the newest branch below a message: from it, the most recently added child at each step, to a
 * leaf, which becomes the current message. +1 version, CONVERSATION_UPDATED.
 */
export async function switchBranch(ctx: ConversationDeps, messageId: string): Promise<Conversation> {
  const target = await findOwnMessage(ctx, messageId);
  const conversation = await inTransaction(ctx.prisma, async (tx) => {
    // Messages are added with this row locked: the walk below sees a tree no writer is changing.
    const [locked] = await tx.$queryRaw<{ status: string }[]>`
      SELECT "status" FROM "Conversation" WHERE "id" = ${target.conversationId} FOR UPDATE`;
    if (!locked || locked.status === 'DELETED') throw notFound('Conversation');
    const [leaf] = await tx.$queryRaw<{ id: string; position: number; preview: string }[]>`
      WITH RECURSIVE walk AS (
        SELECT ${target.id}::text AS "id"
        UNION ALL
        SELECT child."id" FROM walk
        CROSS JOIN LATERAL (
          SELECT c."id" FROM "Message" c
          WHERE c."conversationId" = ${target.conversationId} AND c."parentId" = walk."id"
          ORDER BY c."siblingIndex" DESC LIMIT 1
        ) child
      )
      SELECT m."id", m."position", left(m."content", ${PREVIEW_CHARS}) AS "preview"
      FROM walk JOIN "Message" m ON m."id" = walk."id"
      ORDER BY m."position" DESC LIMIT 1`;
    return tx.conversation.update({
      where: { id: target.conversationId },
      data: { currentMessageId: leaf.id, messageCount: leaf.position, preview: leaf.preview, version: { increment: 1 }, updatedAt: new Date() },
    });
  });
  publishConversationEvent(ctx.pubsub, conversation, { type: 'CONVERSATION_UPDATED', conversationId: conversation.id, messageId: null });
  return conversation;
}

export type ForkConversationInput = { messageId: string; title?: string | null; idempotencyKey?: string | null };

export type ForkDeps = ConversationDeps & {
  rateLimiter: RateLimiter;
  storageQuota: Pick<StorageQuota, 'reserve'>;
  config: Pick<Config, 'rateLimits'>;
  requestUnits?: RequestUnits;
};

/** What one statement of a fork copies at most: the embedded database runs each on the event loop. */
const FORK_CHUNK = { bytes: 1_000_000, rows: 500 };

/**
 * A new ACTIVE conversation of the viewer holding copies of the branch from the first message to
 * `messageId`, positions 1…n, with the source's model, system prompt, tools, project, agent and metadata.
 * The copies keep their times, usage and tool calls; they belong to no chat session.
 * A fork costs the viewer's rate limit what appending its text would: a request per `maxMessageChars`
 * bytes (one request copied 20 MB, and took the embedded database 1.4 s, in a single statement); a branch
 * larger than a minute's requests may copy is refused outright, as no retry could pass.
 */
export async function forkConversation(ctx: ForkDeps, input: ForkConversationInput): Promise<Conversation> {
  checkTitle(input.title);
  const leaf = await findOwnMessage(ctx, input.messageId);
  if (leaf.status === 'STREAMING') throw invalidField('messageId', 'is still being generated: fork once it has finished');
  const source = await findOwnConversation(ctx, leaf.conversationId);
  if (source.status === 'DELETED') throw notFound('Conversation');
  const { idempotencyKey, ...fields } = input;
  const branchTo = { conversationId: source.id, leafId: leaf.id };
  const positions = (after: number | null, before: number | null): BranchRange => ({ after, before, limit: leaf.position, backward: false, roles: null });

  let charged: Promise<void> | undefined;
  const { value, replayed } = await idempotent<Conversation>({
    prisma: ctx.prisma,
    viewer: ctx.viewer,
    ttlMs: ctx.config.idempotencyTtlMs,
    operation: 'forkConversation',
    key: idempotencyKey,
    input: fields,
    idOf: (conversation) => conversation.id,
    replay: (id) => findOwnConversation(ctx, id),
    create: async (tx) => {
      // The source stays as it is until the copy is done: it is copied in several statements.
      const [held] = await tx.$queryRaw<{ status: string }[]>`SELECT "status" FROM "Conversation" WHERE "id" = ${source.id} FOR SHARE`;
      if (!held || held.status === 'DELETED') throw notFound('Conversation');
      const sizes = await tx.$queryRaw<MessageSize[]>(branchRowsQuery([branchTo], positions(null, null), MESSAGE_BYTES));
      charged ??= chargeForCopying(ctx, sizes); // once: a deadlock runs this transaction again
      await charged;
      const fork = await tx.conversation.create({
        data: {
          ...ownerOf(ctx.viewer),
          title: input.title ?? source.title,
          projectId: source.projectId,
          agentId: source.agentId,
          model: source.model,
          systemPrompt: source.systemPrompt,
          systemPromptTokens: source.systemPromptTokens,
          metadata: source.metadata as Prisma.InputJsonObject,
          tools: source.tools as Prisma.InputJsonArray,
        },
      });
      const copied = { count: 0, tokens: 0n, lastMessageAt: null as Date | null, lastId: null as string | null };
      for (const [first, last] of chunks(sizes, FORK_CHUNK)) {
        // The embedded database answers within the same turn of the event loop: let the rest of the server run in
        // between (what needs the database waits for the transaction all the same).
        if (copied.lastId) await setImmediate();
        const chunk = await copyRun(tx, branchRowsQuery([branchTo], positions(first - 1, last + 1), Prisma.sql`m.*`), fork.id, copied.lastId);
        copied.count += chunk.count;
        copied.tokens += BigInt(chunk.tokens);
        if (chunk.lastMessageAt && (!copied.lastMessageAt || chunk.lastMessageAt > copied.lastMessageAt)) copied.lastMessageAt = chunk.lastMessageAt;
        copied.lastId = chunk.lastId ?? copied.lastId;
      }
      if (copied.count !== leaf.position) throw conflict('The branch changed while it was copied: fork again');
      await tx.lane.create({ data: { conversationId: fork.id, number: 0, pathLanes: [0], pathStarts: [1] } });
      return tx.conversation.update({
        where: { id: fork.id },
        data: {
          currentMessageId: copied.lastId,
          messageCount: copied.count,
          totalTokens: copied.tokens,
          preview: previewOf(leaf.content),
          lastMessageAt: copied.lastMessageAt,
          lastActivityAt: copied.lastMessageAt ?? fork.createdAt,
        },
      });
    },
  });
  if (!replayed) publishConversationEvent(ctx.pubsub, value, { type: 'CONVERSATION_CREATED', conversationId: value.id, messageId: null });
  return value;
}

type MessageSize = { position: number; bytes: number };

/** A message's size as stored: octet_length and pg_column_size read no text. */
const MESSAGE_BYTES = Prisma.sql`m."position", (octet_length(m."content") + coalesce(octet_length(m."reasoning"), 0)
  + coalesce(pg_column_size(m."toolCalls"), 0) + coalesce(pg_column_size(m."reasoningParts"), 0) + pg_column_size(m."metadata"))::int AS "bytes"`;

/** What copying these messages costs the viewer's rate limit (the mutation's own request is counted already). */
async function chargeForCopying(ctx: ForkDeps, sizes: MessageSize[]): Promise<void> {
  const bytes = sizes.reduce((sum, row) => sum + row.bytes, 0);
  // First: refused for the quota, it takes nothing of the limits below. Its rows, the fork's and its lane's too.
  ctx.storageQuota.reserve(ctx.viewer, bytes + (sizes.length + 2) * ROW_BYTES);
  const requests = Math.ceil(bytes / ctx.config.maxMessageChars);
  const perMinute = ctx.config.rateLimits.requestsPerMinute;
  if (perMinute > 0 && requests > perMinute) {
    throw invalidField('messageId', `the branch holds ${bytes} bytes: a fork copies at most ${perMinute * ctx.config.maxMessageChars}`);
  }
  if (requests > 1) await ctx.rateLimiter.request(ctx.viewer, requests - 1, ctx.requestUnits);
  await ctx.rateLimiter.bytes(ctx.viewer, bytes); // what it stores, as what a request sends
}

/**
 * Copies a run of a branch (`branch`: its rows, by position) into the fork, each copy under the copy of the
 * message before it: in this run, or `after`, the last copy of the run before.
 */
async function copyRun(tx: Transaction, branch: Prisma.Sql, forkId: string, after: string | null) {
  const [copied] = await tx.$queryRaw<{ count: number; streaming: number; tokens: bigint; lastMessageAt: Date | null; lastId: string | null }[]>`
    WITH branch AS (${branch}),
    copies AS (SELECT b.*, gen_random_uuid()::text AS "copyId" FROM branch b),
    -- Each copy's parent is the copy of the message one position up: the run's rows are one per position.
    linked AS (SELECT c.*, lag(c."copyId") OVER (ORDER BY c."position") AS "parentCopyId" FROM copies c),
    inserted AS (
      INSERT INTO "Message" ("id", "conversationId", "parentId", "siblingIndex", "position", "lane", "role", "content", "status", "model",
        "toolCalls", "toolCallId", "isError", "reasoning", "reasoningParts", "finishReason", "tokens", "windowTokens", "promptTokens",
        "completionTokens", "reasoningTokens", "cachedPromptTokens", "error", "metadata", "createdAt", "completedAt", "sequenceNumber")
      SELECT c."copyId", ${forkId}, coalesce(c."parentCopyId", ${after}::text), 1, c."position", 0, c."role", c."content", c."status", c."model",
        c."toolCalls", c."toolCallId", c."isError", c."reasoning", c."reasoningParts", c."finishReason", c."tokens", c."windowTokens", c."promptTokens",
        c."completionTokens", c."reasoningTokens", c."cachedPromptTokens", c."error", c."metadata", c."createdAt", c."completedAt", c."sequenceNumber"
      FROM linked c
      RETURNING "id", "position", "status", "tokens", "createdAt"
    )
    SELECT count(*)::int AS "count", count(*) FILTER (WHERE "status" = 'STREAMING')::int AS "streaming",
      coalesce(sum("tokens"), 0)::bigint AS "tokens", max("createdAt") AS "lastMessageAt",
      (array_agg("id" ORDER BY "position" DESC))[1] AS "lastId"
    FROM inserted`;
  // A reply still generating on the way to messageId (a message was added under it): its copy would never finish.
  if (copied.streaming > 0) throw conflict('A reply on that branch is still being generated: fork once it has finished');
  return copied;
}

/** Runs of consecutive positions, each of at most `limit.rows` messages and `limit.bytes` (or one message, if larger). */
function chunks(sizes: { position: number; bytes: number }[], limit: { bytes: number; rows: number }): [number, number][] {
  const runs: [number, number][] = [];
  let bytes = 0;
  for (const { position, bytes: size } of sizes) {
    const run = runs.at(-1);
    if (run && bytes + size <= limit.bytes && run[1] - run[0] + 1 < limit.rows) {
      run[1] = position;
      bytes += size;
    } else {
      runs.push([position, position]);
      bytes = size;
    }
  }
  return runs;
}

// Siblings: the children of one message (or a conversation's first messages), numbered 1, 2, 3, … in the
// order they were added (Message.siblingIndex). A page of messages asks each one's count and neighbours:
// one query for all the counts, one for all the neighbours, each an index look-up per key.
import type { Message, PrismaClient } from '../generated/prisma/client.ts';
import { selectList } from '../row-reads.ts';
import { MESSAGE_ROW_COLUMNS } from '../stored-values.ts';

export type SiblingKey = { conversationId: string; parentId: string | null; siblingIndex: number };
type ParentKey = Omit<SiblingKey, 'siblingIndex'>;

const keyOf = (key: ParentKey) => JSON.stringify([key.conversationId, key.parentId]);

export async function loadSiblingCounts(prisma: PrismaClient, keys: readonly ParentKey[]): Promise<number[]> {
  // Two look-ups, so that each uses the index: "parentId" = a parent, or IS NULL for first messages.
  const rows = await prisma.$queryRaw<(ParentKey & { count: number })[]>`
    SELECT k."conversationId", k."parentId",
      coalesce(CASE WHEN k."parentId" IS NULL
        THEN (SELECT max(m."siblingIndex") FROM "Message" m WHERE m."conversationId" = k."conversationId" AND m."parentId" IS NULL)
        ELSE (SELECT max(m."siblingIndex") FROM "Message" m WHERE m."conversationId" = k."conversationId" AND m."parentId" = k."parentId")
      END, 0)::int AS "count"
    FROM unnest(${keys.map((k) => k.conversationId)}::text[], ${keys.map((k) => k.parentId)}::text[]) AS k("conversationId", "parentId")`;
  const counts = new Map(rows.map((row) => [keyOf(row), row.count]));
  return keys.map((key) => counts.get(keyOf(key)) ?? 0);
}

export async function loadSiblings(prisma: PrismaClient, keys: readonly SiblingKey[]): Promise<(Message | null)[]> {
  const rows = await prisma.$queryRaw<Message[]>`
    SELECT ${selectList('m', MESSAGE_ROW_COLUMNS)} FROM unnest(${keys.map((k) => k.conversationId)}::text[], ${keys.map((k) => k.parentId)}::text[], ${keys.map((k) => k.siblingIndex)}::int[])
      AS k("conversationId", "parentId", "siblingIndex")
    CROSS JOIN LATERAL (
      SELECT * FROM "Message" m
      WHERE m."conversationId" = k."conversationId" AND m."parentId" = k."parentId" AND m."siblingIndex" = k."siblingIndex"
      UNION ALL
      SELECT * FROM "Message" m
      WHERE k."parentId" IS NULL AND m."conversationId" = k."conversationId" AND m."parentId" IS NULL AND m."siblingIndex" = k."siblingIndex"
    ) m`;
  const byKey = new Map(rows.map((row) => [JSON.stringify([row.conversationId, row.parentId, row.siblingIndex]), row]));
  return keys.map((key) => byKey.get(JSON.stringify([key.conversationId, key.parentId, key.siblingIndex])) ?? null);
}

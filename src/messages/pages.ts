// Pages of messages by position, for many parents in one SQL query (a LATERAL join per parent), so a list
// of conversations with their first messages costs one query whatever the page size.
import { Prisma, type Message, type MessageRole, type PrismaClient } from '../generated/prisma/client.ts';
import { cursorCodec, isPosition, type PageRequest } from '../pagination/connection.ts';

export const messageCursor = cursorCodec<[number]>('messages', isPosition);
export const DEFAULT_MESSAGE_PAGE = 50;

export type MessagePageKey = {
  parent: 'conversation' | 'chatSession';
  parentId: string;
  request: PageRequest<[number]>;
  roles: MessageRole[] | null;
};

const PARENT_COLUMN = { conversation: Prisma.raw('"conversationId"'), chatSession: Prisma.raw('"chatSessionId"') };

/** Rows in reading order (limit + 1 at most), per key; keys sharing everything but the parent share a query. */
export async function loadMessagePages(prisma: PrismaClient, keys: readonly MessagePageKey[]): Promise<Message[][]> {
  const groups = new Map<string, MessagePageKey[]>();
  for (const key of keys) {
    const shape = JSON.stringify([key.parent, key.request, key.roles]);
    groups.set(shape, [...(groups.get(shape) ?? []), key]);
  }
  const rowsByKey = new Map<MessagePageKey, Message[]>();
  await Promise.all(
    [...groups.values()].map(async (group) => {
      const { parent, request, roles } = group[0];
      const parentIds = [...new Set(group.map((k) => k.parentId))];
      const rows = await prisma.$queryRaw<Message[]>(pageQuery(parent, parentIds, request, roles));
      const byParent = new Map<string, Message[]>();
      for (const row of rows) {
        const id = parent === 'conversation' ? row.conversationId : row.chatSessionId!;
        byParent.set(id, [...(byParent.get(id) ?? []), row]);
      }
      for (const key of group) rowsByKey.set(key, byParent.get(key.parentId) ?? []);
    }),
  );
  return keys.map((key) => rowsByKey.get(key)!);
}

function pageQuery(parent: MessagePageKey['parent'], parentIds: string[], request: PageRequest<[number]>, roles: MessageRole[] | null) {
  const conditions = [Prisma.sql`m.${PARENT_COLUMN[parent]} = p.id`];
  if (request.after) conditions.push(Prisma.sql`m."position" > ${request.after[0]}`);
  if (request.before) conditions.push(Prisma.sql`m."position" < ${request.before[0]}`);
  if (roles) conditions.push(Prisma.sql`m."role"::text = ANY(${roles}::text[])`);
  const direction = Prisma.raw(request.backward ? 'DESC' : 'ASC');
  return Prisma.sql`
    SELECT page.* FROM unnest(${parentIds}::text[]) AS p(id)
    CROSS JOIN LATERAL (
      SELECT m.* FROM "Message" m WHERE ${Prisma.join(conditions, ' AND ')}
      ORDER BY m."position" ${direction} LIMIT ${request.limit + 1}
    ) page`;
}

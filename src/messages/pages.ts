// Pages of messages for many parents in one SQL query each kind, so a list of conversations with their
// first messages costs one query whatever the page size: a conversation's page is of the branch it shows
// (or the one ending at leafId), a chat session's of all its messages by position.
import { Prisma, type Message, type MessageRole, type PrismaClient } from '../generated/prisma/client.ts';
import { cursorCodec, isPosition, isPositionAndId, type PageRequest } from '../pagination/connection.ts';
import { branchRowsQuery, type BranchEnd } from './branch.ts';
import { selectList, type ReadRows } from '../row-reads.ts';
import { MESSAGE_ROW_COLUMNS } from '../stored-values.ts';

/** Along a branch a position is one message. */
export const messageCursor = cursorCodec<[number]>('messages', isPosition);
/** A chat session may hold siblings, which share a position. */
export const sessionMessageCursor = cursorCodec<[number, string]>('sessionMessages', isPositionAndId);
export const DEFAULT_MESSAGE_PAGE = 50;

/** `columns`: those the rows are read with (the rest left out of them), or null for whole rows (but their stored values). */
export type BranchPageKey = { conversationId: string; leafId: string; request: PageRequest<[number]>; roles: MessageRole[] | null; columns: readonly (keyof Message)[] | null };
export type SessionPageKey = { chatSessionId: string; request: PageRequest<[number, string]> };

/**
 * Rows in reading order (limit + 1 at most), per key; keys sharing the range and columns share a query.
 * A row read with some columns only is typed as a whole one: its fields beyond them are undefined.
 */
export async function loadBranchPages(readRows: ReadRows, keys: readonly BranchPageKey[]): Promise<Message[][]> {
  // Ids are uuids: a space cannot be in one, so it separates them unambiguously.
  const branchOf = (end: BranchEnd) => `${end.conversationId} ${end.leafId}`;
  return inGroups(keys, (key) => [key.request, key.roles, key.columns], branchOf, async (group) => {
    const { request, roles, columns } = group[0];
    const ends = group.map(({ conversationId, leafId }) => ({ conversationId, leafId }));
    const range = { after: request.after?.[0] ?? null, before: request.before?.[0] ?? null, limit: request.limit + 1, backward: request.backward, roles };
    const rows = await readRows<Message & { branchLeafId: string }>(branchRowsQuery(ends, range, selectList('m', columns ?? MESSAGE_ROW_COLUMNS)));
    return rows.map((row) => ({ row, key: branchOf({ conversationId: row.conversationId, leafId: row.branchLeafId }) }));
  });
}

export async function loadSessionPages(prisma: PrismaClient, keys: readonly SessionPageKey[]): Promise<Message[][]> {
  return inGroups(keys, (key) => [key.request], (key) => key.chatSessionId, async (group) => {
    const { request } = group[0];
    const conditions = [Prisma.sql`m."chatSessionId" = s.id`];
    if (request.after) conditions.push(Prisma.sql`(m."position", m."id") > (${request.after[0]}::int, ${request.after[1]})`);
    if (request.before) conditions.push(Prisma.sql`(m."position", m."id") < (${request.before[0]}::int, ${request.before[1]})`);
    const direction = Prisma.raw(request.backward ? 'DESC' : 'ASC');
    const rows = await prisma.$queryRaw<Message[]>`
      SELECT page.* FROM unnest(${[...new Set(group.map((k) => k.chatSessionId))]}::text[]) AS s(id)
      CROSS JOIN LATERAL (
        SELECT ${selectList('m', MESSAGE_ROW_COLUMNS)} FROM "Message" m WHERE ${Prisma.join(conditions, ' AND ')}
        ORDER BY m."position" ${direction}, m."id" ${direction} LIMIT ${request.limit + 1}
      ) page`;
    return rows.map((row) => ({ row, key: row.chatSessionId! }));
  });
}

/**
 * Answers keys a group at a time: keys of the same shape share one query; `load` tells each row's parent
 * (as `parentOf` names a key's), and the rows go to their keys in one pass.
 */
async function inGroups<K, R>(
  keys: readonly K[],
  shapeOf: (key: K) => unknown[],
  parentOf: (key: K) => string,
  load: (group: K[]) => Promise<{ row: R; key: string }[]>,
): Promise<R[][]> {
  const groups = new Map<string, K[]>();
  const shapes = keys.map((key) => JSON.stringify(shapeOf(key)));
  keys.forEach((key, i) => {
    const group = groups.get(shapes[i]);
    if (group) group.push(key);
    else groups.set(shapes[i], [key]);
  });
  const rowsByParent = new Map<string, Map<string, R[]>>();
  await Promise.all(
    [...groups.entries()].map(async ([shape, group]) => {
      const byParent = new Map<string, R[]>();
      for (const { row, key } of await load(group)) {
        const rows = byParent.get(key);
        if (rows) rows.push(row);
        else byParent.set(key, [row]);
      }
      rowsByParent.set(shape, byParent);
    }),
  );
  return keys.map((key, i) => rowsByParent.get(shapes[i])!.get(parentOf(key)) ?? []);
}

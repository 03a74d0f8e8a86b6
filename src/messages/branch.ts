// Reading a branch: the messages from a conversation's first message to a leaf, one per position. A
// branch crosses the lanes listed on its leaf's lane (see Lane in prisma/schema.prisma); each lane is an
// index range of (conversationId, lane, position). So a page of a branch is one query whatever its depth,
// and many conversations' pages are one query too (a LATERAL join per branch).
import { Prisma, type MessageRole, type MessageStatus } from '../generated/prisma/client.ts';

/** A branch: the conversation and the message it ends at. */
export type BranchEnd = { conversationId: string; leafId: string };

/** Which messages of a branch, and which way. */
export type BranchRange = {
  /** Positions above this one (exclusive). */
  after: number | null;
  /** Positions below this one (exclusive). */
  before: number | null;
  limit: number;
  /** From the end: the rows come newest first. */
  backward: boolean;
  roles: MessageRole[] | null;
  statuses?: MessageStatus[] | null;
};

/**
 * Rows of each branch in the range, in reading order, at most `limit` per branch, as `columns` (SQL over
 * the message `m`) and "branchLeafId", the leaf of the row's branch. Each lane of a path gives at most
 * `limit` rows; unfiltered, the positions wanted are known outright (a branch holds one message per
 * position), which bounds every lane's range, and leaves out the lanes outside it. `ends`: the branches, or
 * a FROM item that gives them as ("conversationId", "leafId") rows (the rows of a statement around this one).
 */
export function branchRowsQuery(ends: readonly BranchEnd[] | Prisma.Sql, range: BranchRange, columns: Prisma.Sql): Prisma.Sql {
  const conditions = laneConditions(range);
  // Lanes of the path that hold none of the positions wanted are not looked into.
  const lanes = [Prisma.sql`TRUE`];
  if (range.after !== null) lanes.push(Prisma.sql`s."stop" > ${range.after}::int`);
  if (range.before !== null) lanes.push(Prisma.sql`s."start" < ${range.before}::int`);
  if (!range.roles && !range.statuses) {
    if (range.backward) {
      const lowest = Prisma.sql`coalesce(${range.before}::int, leaf."position" + 1) - ${range.limit}::int`;
      conditions.push(Prisma.sql`m."position" >= ${lowest}`);
      lanes.push(Prisma.sql`s."stop" >= ${lowest}`);
    } else {
      const highest = Prisma.sql`coalesce(${range.after}::int, 0) + ${range.limit}::int`;
      conditions.push(Prisma.sql`m."position" <= ${highest}`);
      lanes.push(Prisma.sql`s."start" <= ${highest}`);
    }
  }
  const direction = Prisma.raw(range.backward ? 'DESC' : 'ASC');
  const source = Array.isArray(ends) ? Prisma.sql`unnest(${ends.map((e) => e.conversationId)}::text[], ${ends.map((e) => e.leafId)}::text[])` : (ends as Prisma.Sql);
  return Prisma.sql`
    SELECT page.* FROM ${source} AS e("conversationId", "leafId")
    CROSS JOIN LATERAL (
      SELECT ${columns}, e."leafId" AS "branchLeafId"
      FROM "Message" leaf
      JOIN "Lane" l ON l."conversationId" = leaf."conversationId" AND l."number" = leaf."lane"
      CROSS JOIN LATERAL (SELECT * FROM (${pathOf}) s WHERE ${Prisma.join(lanes, ' AND ')}) s
      CROSS JOIN LATERAL (
        SELECT m.* FROM "Message" m WHERE ${Prisma.join(conditions, ' AND ')}
        ORDER BY m."position" ${direction} LIMIT ${range.limit}
      ) m
      WHERE leaf."id" = e."leafId" AND leaf."conversationId" = e."conversationId"
      ORDER BY m."position" ${direction} LIMIT ${range.limit}
    ) page`;
}

/** How many messages of a branch the filters keep (its length, unfiltered, is the leaf's position). */
export function branchCountQuery(end: BranchEnd, range: Pick<BranchRange, 'roles' | 'statuses'>): Prisma.Sql {
  const conditions = laneConditions({ after: null, before: null, ...range });
  return Prisma.sql`
    SELECT count(*)::int AS "count"
    FROM "Message" leaf
    JOIN "Lane" l ON l."conversationId" = leaf."conversationId" AND l."number" = leaf."lane"
    CROSS JOIN LATERAL (${pathOf}) s
    JOIN "Message" m ON ${Prisma.join(conditions, ' AND ')}
    WHERE leaf."id" = ${end.leafId} AND leaf."conversationId" = ${end.conversationId}`;
}

/**
 * The lanes of the leaf's path, each with the positions the branch takes from it: up to the next lane's start
 * (its starts rise along the path: messages/placement.ts), the last up to the leaf. The next start is read
 * beside each (unnest pads the shorter array with a null), not found by a window over them: a sort and a
 * window less for each branch read, some 7% of a sidebar's statement.
 */
const pathOf = Prisma.sql`
  SELECT p."lane", p."start", coalesce(p."next" - 1, leaf."position") AS "stop"
  FROM unnest(l."pathLanes", l."pathStarts", l."pathStarts"[2:]) AS p("lane", "start", "next")`;

function laneConditions(range: Pick<BranchRange, 'after' | 'before' | 'roles' | 'statuses'>): Prisma.Sql[] {
  const conditions = [
    Prisma.sql`m."conversationId" = leaf."conversationId"`,
    Prisma.sql`m."lane" = s."lane"`,
    Prisma.sql`m."position" BETWEEN s."start" AND s."stop"`,
  ];
  if (range.after !== null) conditions.push(Prisma.sql`m."position" > ${range.after}::int`);
  if (range.before !== null) conditions.push(Prisma.sql`m."position" < ${range.before}::int`);
  if (range.roles) conditions.push(Prisma.sql`m."role"::text = ANY(${range.roles}::text[])`);
  if (range.statuses) conditions.push(Prisma.sql`m."status"::text = ANY(${range.statuses}::text[])`);
  return conditions;
}

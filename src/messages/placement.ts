// Where a new message goes in its conversation's tree: under which parent, at which position, in which
// lane (see Lane in prisma/schema.prisma), as which of its siblings. Called with the conversation row
// locked (store.ts), so each writer places its message in the tree as the writer before it left it.
import type { Transaction } from '../idempotency.ts';
import { badUserInput, notFound } from '../errors.ts';
import { PREVIEW_CHARS } from './preview.ts';

export type Placement = {
  parentId: string | null;
  position: number;
  lane: number;
  siblingIndex: number;
  /** The start of the parent's content: what the conversation previews while a reply has no text yet. */
  parentPreview: string | null;
  /** What the row of the lane the message starts stores of its path (0 when it goes on in its parent's lane). */
  newLaneBytes: number;
};

/** What a lane's row stores for each lane of its path: its number and where it starts, two integers. */
const LANE_PATH_BYTES = 8;

/**
 * Under `parentId` (a message of the conversation), or as a first message when it is null. A branch may
 * cross at most `maxLanes` lanes: a fork of it (one lane) goes on from there.
 */
export async function placeUnder(tx: Transaction, conversationId: string, parentId: string | null, maxLanes: number): Promise<Placement> {
  if (parentId === null) {
    const { _max } = await tx.message.aggregate({ where: { conversationId, parentId: null }, _max: { siblingIndex: true } });
    const lane = await startLane(tx, conversationId, null, maxLanes);
    return { parentId: null, position: 1, lane: lane.number, siblingIndex: (_max.siblingIndex ?? 0) + 1, parentPreview: null, newLaneBytes: lane.pathBytes };
  }
  const [parent] = await tx.$queryRaw<{ lane: number; position: number; preview: string; children: number | null }[]>`
    SELECT p."lane", p."position", left(p."content", ${PREVIEW_CHARS}) AS "preview",
      (SELECT max(c."siblingIndex") FROM "Message" c WHERE c."conversationId" = p."conversationId" AND c."parentId" = p."id") AS "children"
    FROM "Message" p
    WHERE p."id" = ${parentId} AND p."conversationId" = ${conversationId}`;
  if (!parent) throw notFound('Message');
  const siblingIndex = (parent.children ?? 0) + 1;
  // The first child goes on in its parent's lane (the parent ends it: it had no child); a later child starts one.
  const lane = siblingIndex === 1 ? { number: parent.lane, pathBytes: 0 } : await startLane(tx, conversationId, parent, maxLanes);
  return { parentId, position: parent.position + 1, lane: lane.number, siblingIndex, parentPreview: parent.preview, newLaneBytes: lane.pathBytes };
}

/** A new lane, starting under `from` (its path is the parent's branch, then itself) or at position 1. */
async function startLane(tx: Transaction, conversationId: string, from: { lane: number; position: number } | null, maxLanes: number): Promise<{ number: number; pathBytes: number }> {
  const [{ number }] = await tx.$queryRaw<{ number: number }[]>`
    SELECT coalesce(max("number") + 1, 0)::int AS "number" FROM "Lane" WHERE "conversationId" = ${conversationId}`;
  let pathLanes = [number];
  let pathStarts = [1];
  if (from) {
    const parentLane = await tx.lane.findUniqueOrThrow({ where: { conversationId_number: { conversationId, number: from.lane } } });
    const kept = parentLane.pathStarts.filter((start) => start <= from.position).length;
    if (kept + 1 > maxLanes) {
      throw badUserInput(`This branch already turns off ${maxLanes - 1} times on the way here: fork the conversation at this message (forkConversation) to go on from it`);
    }
    pathLanes = [...parentLane.pathLanes.slice(0, kept), number];
    pathStarts = [...parentLane.pathStarts.slice(0, kept), from.position + 1];
  }
  await tx.lane.create({ data: { conversationId, number, pathLanes, pathStarts } });
  return { number, pathBytes: pathLanes.length * LANE_PATH_BYTES };
}

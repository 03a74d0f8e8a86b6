// What one viewer may keep stored (STORAGE_MB_PER_USER): the texts and JSON of their conversations and
// messages as the database stores them (pg_column_size: compressed where PostgreSQL compresses them, and read
// from a value's header, not its whole), and what each row takes beside them. The daily bytes
// (RATE_LIMIT_MB_PER_DAY) bound how fast a viewer's storage grows; this bounds how far, so that one user cannot
// fill the disk over months.
//
// Measured per viewer by a scan of their rows (one at a time per viewer), kept for a minute on each instance;
// in between, each write adds what it was sent with and a row per mutation (`check`), a fork its copy
// (`reserve`), a reply its text as it streams (`stored`). The minute's measure is the server's own
// bookkeeping and is not charged. A write refused measures again (at most once a second), so that a purge
// makes room at once; those measures, which a viewer at the quota could ask for again and again, are charged
// by their time like the other scans. A write let through may pass the quota by what it stores; a fork whose
// copy would pass it is refused.
import type { PrismaClient } from './generated/prisma/client.ts';
import type { Viewer } from './auth.ts';
import { ownConversationsSql, ownerKey, type OwnerIds } from './access.ts';
import { rateLimitedError } from './errors.ts';
import type { RateLimiter } from './rate-limit.ts';
import { chargedByTime } from './scans.ts';

export type StorageQuota = {
  /**
   * Throws RATE_LIMITED when what the viewer stores has reached the quota; else counts `adding` (what the
   * write was sent with) as stored until the next measure.
   */
  check(viewer: Viewer, adding: number): Promise<void>;
  /**
   * For a write that knows what it will store (a fork's copy), after `check`: throws RATE_LIMITED when that
   * would pass the quota, else counts it. Judged on the figure `check` left, never measuring: it may be
   * called inside a transaction, and a measure outside it would wait for it on the embedded database.
   */
  reserve(viewer: Viewer, bytes: number): void;
  /** Bytes stored for this owner without a write of theirs to check (a reply's text, as it streams). */
  stored(owner: OwnerIds, bytes: number): void;
};

/** How long a measure stands, and how soon a refused write measures again. */
const KEPT_MS = 60_000;
const REMEASURE_REFUSED_MS = 1_000;
/** Viewers whose measure is kept on an instance; the least recently measured go first. */
const MAX_KEPT = 10_000;

type Measure = { bytes: number; at: number };

type QuotaDeps = { prisma: PrismaClient; rateLimiter: Pick<RateLimiter, 'charge' | 'inTurn'> };

export function createStorageQuota(limitBytes: number, deps: QuotaDeps): StorageQuota {
  const allowed = `the ${megabytes(limitBytes)} MB that STORAGE_MB_PER_USER allows: purge conversations to write more`;
  if (limitBytes <= 0) return { check: async () => {}, reserve: () => {}, stored: () => {} };
  const measures = new Map<string, Measure>();
  const measuring = new Map<string, Promise<Measure>>();

  /** A fresh measure of the viewer's rows; one at a time per viewer, the callers meanwhile share it. */
  const measure = (viewer: Viewer, key: string, { charged }: { charged: boolean }): Promise<Measure> => {
    let pending = measuring.get(key);
    if (!pending) {
      const read = () => storedBytes(deps.prisma, viewer);
      pending = deps.rateLimiter
        .inTurn(viewer, 'scan', () => (charged ? chargedByTime({ rateLimiter: deps.rateLimiter, viewer }, read) : read()))
        .then((bytes) => keep(key, { bytes, at: performance.now() }))
        .finally(() => measuring.delete(key));
      measuring.set(key, pending);
    }
    return pending;
  };
  const keep = (key: string, kept: Measure): Measure => {
    measures.delete(key); // re-inserted: the newest last
    measures.set(key, kept);
    if (measures.size > MAX_KEPT) measures.delete(measures.keys().next().value!);
    return kept;
  };

  return {
    async check(viewer, adding) {
      const key = ownerKey(viewer);
      let known = measures.get(key);
      if (!known || performance.now() - known.at > KEPT_MS) known = await measure(viewer, key, { charged: false });
      if (known.bytes >= limitBytes && performance.now() - known.at > REMEASURE_REFUSED_MS) known = await measure(viewer, key, { charged: true });
      if (known.bytes >= limitBytes) throw rateLimitedError(`${storing(known.bytes)}, ${allowed}`);
      known.bytes += adding;
    },
    reserve(viewer, bytes) {
      const known = measures.get(ownerKey(viewer));
      if (!known) return; // none kept (quota off when checked, or forgotten since): the next check measures
      if (known.bytes + bytes > limitBytes) throw rateLimitedError(`${storing(known.bytes)}; with the ${megabytes(bytes)} MB this would store, more than ${allowed}`);
      known.bytes += bytes;
    },
    stored(owner, bytes) {
      const known = measures.get(ownerKey(owner));
      if (known) known.bytes += bytes;
    },
  };
}

const megabytes = (bytes: number) => Math.round((bytes / 1024 / 1024) * 100) / 100;
const storing = (bytes: number) => `This user stores ${megabytes(bytes)} MB`;

/**
 * What a row takes beside the values counted, with its index entries: 8,150 conversations created with
 * nothing in them grew their tables and indexes by 6.6 MB on PostgreSQL here, some 800 bytes each.
 */
export const ROW_BYTES = 800;

/**
 * What the viewer's conversations store, with their messages, lanes and chat sessions, in bytes as stored
 * (deleted ones too, until purged): each row's texts and JSON and ROW_BYTES for the row itself.
 */
async function storedBytes(prisma: PrismaClient, viewer: Viewer): Promise<number> {
  const own = ownConversationsSql(viewer, 'c');
  const [row] = await prisma.$queryRaw<{ bytes: bigint }[]>`
    SELECT
      (SELECT coalesce(sum(pg_column_size(m."content") + coalesce(pg_column_size(m."reasoning"), 0) + coalesce(pg_column_size(m."reasoningParts"), 0)
                           + coalesce(pg_column_size(m."toolCalls"), 0) + coalesce(pg_column_size(m."error"), 0) + pg_column_size(m."metadata")
                           + ${ROW_BYTES}), 0)
         FROM "Message" m JOIN "Conversation" c ON c."id" = m."conversationId" WHERE ${own})
      + (SELECT coalesce(sum(coalesce(pg_column_size(c."title"), 0) + coalesce(pg_column_size(c."systemPrompt"), 0) + pg_column_size(c."metadata")
                           + pg_column_size(c."tools") + coalesce(pg_column_size(c."preview"), 0) + ${ROW_BYTES}), 0)
         FROM "Conversation" c WHERE ${own})
      + (SELECT coalesce(sum(pg_column_size(l."pathLanes") + pg_column_size(l."pathStarts") + ${ROW_BYTES}), 0)
         FROM "Lane" l JOIN "Conversation" c ON c."id" = l."conversationId" WHERE ${own})
      + (SELECT coalesce(sum(pg_column_size(s."model") + ${ROW_BYTES}), 0)
         FROM "ChatSession" s JOIN "Conversation" c ON c."id" = s."conversationId" WHERE ${own}) AS "bytes"`;
  return Number(row?.bytes ?? 0);
}

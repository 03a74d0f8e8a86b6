// `idempotencyKey`: a repeat of the same mutation by the same viewer with the same key returns the first
// result and creates nothing new. The record is written in the creating transaction, so a crash can't
// leave a result without its record or a record without its result.
import { createHash } from 'node:crypto';
import type { Prisma, PrismaClient } from './generated/prisma/client.ts';
import type { Viewer } from './auth.ts';
import { ownerOf } from './access.ts';
import { codeOf, conflict, isPrismaError } from './errors.ts';
import { checkIdempotencyKey } from './validation.ts';
import { inTransaction } from './transactions.ts';

export type Transaction = Prisma.TransactionClient;

type Options<R> = {
  prisma: PrismaClient;
  viewer: Viewer;
  ttlMs: number;
  operation: string;
  key: string | null | undefined;
  /** The mutation's input, without the key: the same key with another input is refused. */
  input: unknown;
  create: (tx: Transaction) => Promise<R>;
  idOf: (result: R) => string;
  /** Loads the first result again for a repeat. */
  replay: (resultId: string) => Promise<R>;
};

export type IdempotentResult<R> = { value: R; replayed: boolean };

export async function idempotent<R>(options: Options<R>): Promise<IdempotentResult<R>> {
  const { prisma, key, create } = options;
  if (key == null) return { value: await inTransaction(prisma, create), replayed: false };
  const earlier = await earlierResult(options);
  if (earlier) return { value: earlier.value, replayed: true };

  const id = recordId(options);
  const requestHash = hashOf(options.input);
  try {
    const value = await inTransaction(prisma, async (tx) => {
      const result = await create(tx);
      await tx.idempotencyRecord.create({ data: { ...id, requestHash, resultId: options.idOf(result) } });
      return result;
    });
    return { value, replayed: false };
  } catch (error) {
    // Two requests with the same key at once: the loser of the race answers with the winner's result, when
    // the winner stopped it (the key's record taken, or what the winner created: its reply running, its
    // tool results stored).
    if (!isPrismaError(error, 'P2002') && !RACE_LOST.has(codeOf(error) ?? '')) throw error;
    const winner = await findRecord(prisma, id, options.ttlMs).catch(() => null);
    if (!winner) throw error;
    return { value: await replayRecord(options, winner, requestHash), replayed: true };
  }
}

/** What a request meets when another with its key has just done what it was about to. */
const RACE_LOST = new Set(['GENERATION_IN_PROGRESS', 'CONFLICT']);

/**
 * The first result of an earlier request with this key, or null when the key is new (or none is given).
 * A mutation that does work before it writes looks here first, so that a retry returns its first result
 * whatever has happened since, and costs nothing more.
 */
export async function earlierResult<R>(options: Pick<Options<R>, 'prisma' | 'viewer' | 'ttlMs' | 'operation' | 'key' | 'input' | 'replay'>): Promise<{ value: R } | null> {
  if (options.key == null) return null;
  checkIdempotencyKey(options.key);
  const earlier = await findRecord(options.prisma, recordId(options), options.ttlMs);
  return earlier ? { value: await replayRecord(options, earlier, hashOf(options.input)) } : null;
}

/** Whether a request with this key stored its result (and it is kept): a repeat of it stores nothing. */
export const hasKeptResult =
  (prisma: PrismaClient, ttlMs: number) =>
  async (viewer: Viewer, operation: string, key: string): Promise<boolean> =>
    (await findRecord(prisma, recordId({ viewer, operation, key }), ttlMs)) !== null;

/** Who used a key, for what: the record's identity. */
export const recordId = ({ viewer, operation, key }: Pick<Options<unknown>, 'viewer' | 'operation' | 'key'>) => ({ ...ownerOf(viewer), operation, key: key! });

export type RecordId = { orgId: string; userId: string; operation: string; key: string };

/**
 * Whether `resultId` is the result of a request with this key: its reply, started by a first attempt that a
 * repeat must leave running. Asked after the reply was seen, this sees its record: both were committed
 * together.
 */
export async function isResultOf(prisma: PrismaClient, id: RecordId, resultId: string): Promise<boolean> {
  return (await prisma.idempotencyRecord.count({ where: { ...id, resultId } })) > 0;
}

/** The live record for this id; one past its time to live is deleted and counts as none. */
async function findRecord(prisma: PrismaClient, id: RecordId, ttlMs: number) {
  const record = await prisma.idempotencyRecord.findUnique({ where: { orgId_userId_operation_key: id } });
  if (record && Date.now() - record.createdAt.getTime() > ttlMs) {
    await prisma.idempotencyRecord.deleteMany({ where: { ...id, createdAt: record.createdAt } });
    return null;
  }
  return record;
}

async function replayRecord<R>(options: Pick<Options<R>, 'replay'>, record: { requestHash: string; resultId: string }, requestHash: string): Promise<R> {
  if (record.requestHash !== requestHash) throw conflict('This idempotencyKey was already used with a different input');
  return options.replay(record.resultId);
}

/** Deletes records past their time to live; run periodically. */
export async function purgeExpiredIdempotencyRecords(prisma: PrismaClient, ttlMs: number): Promise<number> {
  const { count } = await prisma.idempotencyRecord.deleteMany({ where: { createdAt: { lt: new Date(Date.now() - ttlMs) } } });
  return count;
}

function hashOf(input: unknown): string {
  return createHash('sha256').update(canonicalJson(input)).digest('hex');
}

/** JSON with object keys sorted, so that `{a, b}` and `{b, a}` hash alike; undefined and null alike. */
function canonicalJson(value: unknown): string {
  if (value === undefined || value === null) return 'null';
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined && v !== null)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

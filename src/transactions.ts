// A transaction PostgreSQL broke off for a deadlock or a write conflict is run again: its work was rolled
// back whole, and the request that lost the race is owed its answer, not INTERNAL_SERVER_ERROR. (Four
// turns on one conversation at once, each INTERRUPTing the others, met such deadlocks one round in four.)
import { setTimeout as sleep } from 'node:timers/promises';
import type { Prisma, PrismaClient } from './generated/prisma/client.ts';
import { isPrismaError, sqlStateOf } from './errors.ts';

const ATTEMPTS = 3;

/** Runs `work` in a transaction, again if it deadlocks: what it does outside the database must bear that. */
export async function inTransaction<R>(prisma: Pick<PrismaClient, '$transaction'>, work: (tx: Prisma.TransactionClient) => Promise<R>): Promise<R> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await prisma.$transaction(work);
    } catch (error) {
      if (attempt >= ATTEMPTS || !isWriteConflict(error)) throw error;
      await sleep(Math.random() * 20 * attempt); // apart, so that the two do not meet again
    }
  }
}

/** A deadlock or a serialization failure: Prisma's own code for them, or PostgreSQL's under a raw statement. */
function isWriteConflict(error: unknown): boolean {
  const sqlState = sqlStateOf(error);
  return isPrismaError(error, 'P2034') || sqlState === '40P01' || sqlState === '40001';
}

// STREAMING messages, read by the partial index that holds only them ("Message_streaming_conversationId_key",
// prisma/migrations/20261202092406_streaming_index). Written as SQL with the status a literal: Prisma sends its
// filter as `CAST($1::text AS "MessageStatus")`, which PostgreSQL cannot match to the index's condition, so
// each such read went through every message of the conversation, and recovery's (every 15 s, on every
// instance) through every message of the database.
import { Prisma } from '../generated/prisma/client.ts';
import { selectList } from '../row-reads.ts';
import { MESSAGE_ROW_COLUMNS } from '../stored-values.ts';

type RawQueries = Pick<Prisma.TransactionClient, '$queryRaw'>;

/** The id of the conversation's STREAMING message (one at most: the index is unique), or null. */
export async function streamingMessageOf(db: RawQueries, conversationId: string): Promise<{ id: string } | null> {
  const [row] = await db.$queryRaw<{ id: string }[]>`SELECT "id" FROM "Message" WHERE "conversationId" = ${conversationId} AND "status" = 'STREAMING' LIMIT 1`;
  return row ?? null;
}

/** Every STREAMING message: its id, runner and last heartbeat. */
export function streamingMessages(db: RawQueries): Promise<{ id: string; runnerId: string | null; heartbeatAt: Date | null }[]> {
  return db.$queryRaw`SELECT "id", "runnerId", "heartbeatAt" FROM "Message" WHERE "status" = 'STREAMING'`;
}

/** The STREAMING messages of these conversations, without their stored values (for src/row-reads.ts). */
export function streamingMessagesOfSql(conversationIds: readonly string[]): Prisma.Sql {
  return Prisma.sql`
    SELECT ${selectList('m', MESSAGE_ROW_COLUMNS)} FROM "Message" AS m
    WHERE m."conversationId" = ANY(${[...conversationIds]}::text[]) AND m."status" = 'STREAMING'`;
}

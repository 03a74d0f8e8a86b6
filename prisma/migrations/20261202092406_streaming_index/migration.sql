-- At most one STREAMING message per conversation, enforced by the database (a partial unique index), in
-- place of two indexes over every message. Older data could hold two: all but the newest are interrupted.
UPDATE "Message" AS m
SET "status" = 'INTERRUPTED', "completedAt" = CURRENT_TIMESTAMP, "runnerId" = NULL, "heartbeatAt" = NULL
WHERE m."status" = 'STREAMING'
  AND EXISTS (SELECT 1 FROM "Message" AS o WHERE o."conversationId" = m."conversationId" AND o."status" = 'STREAMING' AND o."position" > m."position");

-- DropIndex
DROP INDEX "Message_conversationId_status_idx";

-- DropIndex
DROP INDEX "Message_status_heartbeatAt_idx";

-- CreateIndex
CREATE UNIQUE INDEX "Message_streaming_conversationId_key" ON "Message"("conversationId") WHERE "status" = 'STREAMING';

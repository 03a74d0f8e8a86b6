-- AlterTable
ALTER TABLE "Conversation" ADD COLUMN     "lastActivityAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP;

-- Rows from before: their newest message, or their creation while empty.
UPDATE "Conversation" SET "lastActivityAt" = COALESCE("lastMessageAt", "createdAt");

-- CreateIndex
CREATE INDEX "Conversation_orgId_userId_status_lastActivityAt_id_idx" ON "Conversation"("orgId", "userId", "status", "lastActivityAt" DESC, "id" DESC);

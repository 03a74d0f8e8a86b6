-- AlterTable
ALTER TABLE "Message" ADD COLUMN     "heartbeatAt" TIMESTAMP(3),
ADD COLUMN     "runnerId" TEXT,
ADD COLUMN     "sequenceNumber" INTEGER NOT NULL DEFAULT 0;

-- CreateIndex
CREATE INDEX "Message_conversationId_status_idx" ON "Message"("conversationId", "status");

-- CreateIndex
CREATE INDEX "Message_status_heartbeatAt_idx" ON "Message"("status", "heartbeatAt");

-- CreateEnum
CREATE TYPE "FinishReason" AS ENUM ('STOP', 'LENGTH', 'TOOL_CALLS', 'CONTENT_FILTER', 'ERROR', 'OTHER');

-- AlterTable
ALTER TABLE "Conversation" ADD COLUMN     "tools" JSONB NOT NULL DEFAULT '[]';

-- AlterTable
ALTER TABLE "Message" ADD COLUMN     "cachedPromptTokens" INTEGER,
ADD COLUMN     "finishReason" "FinishReason",
ADD COLUMN     "isError" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "reasoning" TEXT,
ADD COLUMN     "reasoningParts" JSONB,
ADD COLUMN     "reasoningTokens" INTEGER;

-- Replies finished before finish reasons were kept: a completed one stopped, a failed one erred.
UPDATE "Message" SET "finishReason" = 'STOP' WHERE "role" = 'ASSISTANT' AND "status" = 'COMPLETED';
UPDATE "Message" SET "finishReason" = 'ERROR' WHERE "role" = 'ASSISTANT' AND "status" = 'FAILED';

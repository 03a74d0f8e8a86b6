-- AlterTable
ALTER TABLE "Conversation" ALTER COLUMN "totalTokens" SET DATA TYPE BIGINT;

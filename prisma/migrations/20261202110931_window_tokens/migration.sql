-- AlterTable
ALTER TABLE "Conversation" ADD COLUMN     "systemPromptTokens" INTEGER;

-- AlterTable
ALTER TABLE "Message" ADD COLUMN     "windowTokens" INTEGER NOT NULL DEFAULT 0;

-- Rows from before: their tokens are what there is (counted by the server unless a client gave them).
UPDATE "Message" SET "windowTokens" = "tokens";

-- Branches: messages form a tree (parentId, siblingIndex), read a branch at a time through lanes (see
-- Lane in schema.prisma); the conversation shows the branch ending at currentMessageId.

-- AlterTable
ALTER TABLE "Conversation" ADD COLUMN     "currentMessageId" TEXT;

-- AlterTable
ALTER TABLE "Message" ADD COLUMN     "lane" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "parentId" TEXT,
ADD COLUMN     "siblingIndex" INTEGER NOT NULL DEFAULT 1;

-- CreateTable
CREATE TABLE "Lane" (
    "conversationId" TEXT NOT NULL,
    "number" INTEGER NOT NULL,
    "pathLanes" INTEGER[],
    "pathStarts" INTEGER[],

    CONSTRAINT "Lane_pkey" PRIMARY KEY ("conversationId","number")
);

-- AddForeignKey
ALTER TABLE "Lane" ADD CONSTRAINT "Lane_conversationId_fkey" FOREIGN KEY ("conversationId") REFERENCES "Conversation"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Existing conversations become single branches: positions 1..messageCount, gapless, each message under
-- the one before it, all in lane 0 (the default), the last one current. Done while the old unique index
-- on (conversationId, position) is there to find each parent.
UPDATE "Message" m SET "parentId" = p."id"
FROM "Message" p
WHERE p."conversationId" = m."conversationId" AND p."position" = m."position" - 1;

INSERT INTO "Lane" ("conversationId", "number", "pathLanes", "pathStarts")
SELECT c."id", 0, ARRAY[0], ARRAY[1] FROM "Conversation" c
WHERE EXISTS (SELECT 1 FROM "Message" m WHERE m."conversationId" = c."id");

UPDATE "Conversation" c SET "currentMessageId" = m."id"
FROM "Message" m
WHERE m."conversationId" = c."id" AND m."position" = c."messageCount";

-- DropIndex
DROP INDEX "Message_chatSessionId_position_idx";

-- DropIndex
DROP INDEX "Message_conversationId_position_key";

-- DropIndex
DROP INDEX "Message_conversationId_role_position_idx";

-- CreateIndex
CREATE UNIQUE INDEX "Message_conversationId_parentId_siblingIndex_key" ON "Message"("conversationId", "parentId", "siblingIndex");

-- CreateIndex
CREATE INDEX "Message_chatSessionId_position_id_idx" ON "Message"("chatSessionId", "position", "id");

-- CreateIndex
CREATE UNIQUE INDEX "Message_conversationId_lane_position_key" ON "Message"("conversationId", "lane", "position");

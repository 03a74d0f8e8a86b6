-- Search by ILIKE '%text%' uses trigram indexes (pg_trgm ships with PostgreSQL and with PGlite; it is a
-- trusted extension, so the database owner may create it).
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- CreateIndex
CREATE INDEX "Conversation_title_trgm_idx" ON "Conversation" USING GIN ("title" gin_trgm_ops);

-- CreateIndex
CREATE INDEX "Message_content_trgm_idx" ON "Message" USING GIN ("content" gin_trgm_ops);

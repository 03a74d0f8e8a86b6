-- A search reads the viewer's own messages only (src/conversations/list.ts). These indexes span every
-- tenant: a search through them rechecked each tenant's messages holding the pattern's trigrams, and each
-- append and streamed reply paid for keeping them.
DROP INDEX "Conversation_title_trgm_idx";

DROP INDEX "Message_content_trgm_idx";

// What one response may carry of stored text, counted as its fields resolve (src/schema/costly.ts), and what
// it may read of it (src/stored-values.ts): reading more than can be sent is work for nothing.

/**
 * Stored text one response may carry (messages' content and reasoning, system prompts, metadata, tool calls
 * and tools), in bytes as the response encodes it: a page of the longest messages, not thirty aliases of it,
 * nor one system prompt a thousand times. Counted in characters, text of control characters (six bytes
 * each in JSON) made a response six times larger than the limit meant.
 */
export const MAX_RESPONSE_BYTES = 8_000_000;
/** And one event of a subscription, which every subscriber receives. */
export const MAX_EVENT_BYTES = 1_000_000;

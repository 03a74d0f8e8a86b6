// What a model is sent: the system prompt always, then as many of the newest turns as fit in the budget.
// A turn is a user message with the replies and tool results after it; turns are kept or dropped whole so a
// tool result never arrives without the call it answers.
import type { Conversation, Message, MessageRole, MessageStatus, PrismaClient } from '../generated/prisma/client.ts';
import { countTokens } from '../tokens.ts';

/** Messages whose text a model should see again. STREAMING and FAILED replies are not part of the history. */
const USABLE_STATUSES: MessageStatus[] = ['COMPLETED', 'CANCELLED', 'INTERRUPTED'];
const SCAN_BATCH = 500;

type Slim = { id: string; role: MessageRole; windowTokens: number; position: number };

/** The system prompt's tokens: counted when it was set, or now for a conversation from before that. */
export async function systemPromptTokens(conversation: Pick<Conversation, 'systemPrompt' | 'systemPromptTokens'>): Promise<number> {
  return conversation.systemPromptTokens ?? (conversation.systemPrompt ? await countTokens(conversation.systemPrompt) : 0);
}

/** The conversation's system prompt as a message (position 0); it is not stored in the messages table. */
export async function systemPromptMessage(conversation: Conversation): Promise<Message | null> {
  if (!conversation.systemPrompt) return null;
  return {
    id: `${conversation.id}:system`,
    conversationId: conversation.id,
    chatSessionId: null,
    position: 0,
    role: 'SYSTEM',
    content: conversation.systemPrompt,
    status: 'COMPLETED',
    model: null,
    toolCalls: null,
    toolCallId: null,
    isError: false,
    reasoning: null,
    reasoningParts: null,
    finishReason: null,
    tokens: await systemPromptTokens(conversation),
    windowTokens: await systemPromptTokens(conversation),
    promptTokens: null,
    completionTokens: null,
    reasoningTokens: null,
    cachedPromptTokens: null,
    error: null,
    metadata: {},
    createdAt: conversation.createdAt,
    completedAt: conversation.createdAt,
    sequenceNumber: 0,
    runnerId: null,
    heartbeatAt: null,
  };
}

export async function contextWindow(prisma: PrismaClient, conversation: Conversation, maxTokens: number): Promise<Message[]> {
  const systemPrompt = await systemPromptMessage(conversation);
  const usable = { conversationId: conversation.id, status: { in: USABLE_STATUSES } };
  // What a message takes of the window is the server's own count, never a client's `tokens`.
  const slim = { id: true, role: true, windowTokens: true, position: true } as const;
  // Stored SYSTEM messages are system prompts too: always kept, and they use up budget first.
  const systemMessages: Slim[] = await prisma.message.findMany({ where: { ...usable, role: 'SYSTEM' }, select: slim });
  let budget = maxTokens - (systemPrompt?.tokens ?? 0) - systemMessages.reduce((sum, m) => sum + m.windowTokens, 0);

  const kept: Slim[] = [];
  let turn: Slim[] = []; // newest first while scanning backwards
  let below = conversation.messageCount + 1;
  scan: while (below > 1) {
    const batch = await prisma.message.findMany({
      where: { ...usable, role: { not: 'SYSTEM' }, position: { lt: below } },
      orderBy: { position: 'desc' },
      take: SCAN_BATCH,
      select: slim,
    });
    if (batch.length === 0) break;
    below = batch.at(-1)!.position;
    for (const message of batch) {
      turn.push(message);
      if (message.role !== 'USER') continue;
      const cost = turn.reduce((sum, m) => sum + m.windowTokens, 0);
      if (cost > budget) break scan;
      kept.push(...turn);
      budget -= cost;
      turn = [];
    }
    if (batch.length < SCAN_BATCH) {
      // Messages before the first user message (a greeting, say) form a turn of their own.
      const cost = turn.reduce((sum, m) => sum + m.windowTokens, 0);
      if (turn.length && cost <= budget) kept.push(...turn), (turn = []);
      break;
    }
  }
  // Not even the newest turn fits: keep its newest messages that do, never starting on a tool result.
  if (kept.length === 0 && turn.length) kept.push(...newestThatFit(turn, budget));

  const ids = [...systemMessages, ...kept].map((m) => m.id);
  const rows = await prisma.message.findMany({ where: { id: { in: ids } }, orderBy: { position: 'asc' } });
  return systemPrompt ? [systemPrompt, ...rows] : rows;
}

function newestThatFit(newestFirst: Slim[], budget: number): Slim[] {
  const fit: Slim[] = [];
  let used = 0;
  for (const message of newestFirst) {
    if (used + message.windowTokens > budget) break;
    fit.push(message);
    used += message.windowTokens;
  }
  while (fit.length && fit.at(-1)!.role === 'TOOL') fit.pop();
  return fit;
}

// What a model is sent: the system prompt always, then as many of the newest turns of a branch as fit in
// the budget.
// A turn is a user message with the replies and tool results after it; turns are kept or dropped whole so a
// tool result never arrives without the call it answers.
import { Prisma, type Conversation, type Message, type MessageRole, type MessageStatus, type PrismaClient } from '../generated/prisma/client.ts';
import { countTokens } from '../tokens.ts';
import { branchRowsQuery, type BranchEnd, type BranchRange } from './branch.ts';

/** Messages whose text a model should see again. STREAMING and FAILED replies are not part of the history. */
const USABLE_STATUSES: MessageStatus[] = ['COMPLETED', 'CANCELLED', 'INTERRUPTED'];
const SCAN_BATCH = 500;
/** No branch is longer: positions are int4. */
const MAX_POSITION = 2_147_483_647;

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
    parentId: null,
    siblingIndex: 1,
    position: 0,
    lane: 0,
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

/**
 * The window of the branch ending at `leafId` (null: the system prompt alone). The conversation's window
 * is of its current message; a reply's prompt is of the message it answers.
 */
export async function contextWindow(
  prisma: PrismaClient,
  conversation: Conversation,
  leafId: string | null,
  maxTokens: number,
  { omit }: { omit?: Prisma.MessageOmit } = {},
): Promise<Message[]> {
  const systemPrompt = await systemPromptMessage(conversation);
  if (leafId === null) return systemPrompt ? [systemPrompt] : [];
  const branch: BranchEnd[] = [{ conversationId: conversation.id, leafId }];
  // What a message takes of the window is the server's own count, never a client's `tokens`.
  const slim = Prisma.sql`m."id", m."role", m."windowTokens", m."position"`;
  const read = (range: Omit<BranchRange, 'statuses' | 'backward'>) =>
    prisma.$queryRaw<Slim[]>(branchRowsQuery(branch, { ...range, backward: true, statuses: USABLE_STATUSES }, slim));
  // Stored SYSTEM messages are system prompts too: always kept, and they use up budget first.
  const systemMessages = await read({ after: null, before: null, limit: MAX_POSITION, roles: ['SYSTEM'] });
  let budget = maxTokens - (systemPrompt?.tokens ?? 0) - systemMessages.reduce((sum, m) => sum + m.windowTokens, 0);

  const kept: Slim[] = [];
  let turn: Slim[] = []; // newest first while scanning backwards
  let below: number | null = null; // from the leaf
  scan: for (;;) {
    const batch = await read({ after: null, before: below, limit: SCAN_BATCH, roles: ['USER', 'ASSISTANT', 'TOOL'] });
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
  const rows = (await prisma.message.findMany({ where: { id: { in: ids } }, orderBy: { position: 'asc' }, omit })) as Message[];
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

// The turns that start a reply (sendMessage, generateReply, submitToolResults) and cancelGeneration: the
// rules of each around the shared turn (turn.ts).
import { setImmediate } from 'node:timers/promises';
import { Prisma, type ChatSession, type Conversation, type Message } from '../generated/prisma/client.ts';
import type { GenerationDeps } from '../services.ts';
import { findOwnConversation, findOwnMessage } from '../access.ts';
import { badUserInput, conflict, invalidField } from '../errors.ts';
import { insertMessage, type NewMessage, type Parent, type StoredMessage } from '../messages/store.ts';
import { checkParentMessage } from '../messages/service.ts';
import { branchRowsQuery } from '../messages/branch.ts';
import { countTokens } from '../tokens.ts';
import { checkContent, checkLabel } from '../validation.ts';
import { stopGeneration } from './stop.ts';
import { runTurn, type TurnInput } from './turn.ts';
import { systemPromptTokens } from '../messages/context-window.ts';
import type { StoredToolCall } from './assembled-reply.ts';

export type SendMessageInput = TurnInput & { conversationId: string; content: string; parentMessageId?: string | null };
export type SentMessage = { userMessage: Message; assistantMessage: Message; conversation: Conversation };

/**
 * Stores the user message and an empty STREAMING assistant message, starts the generation on the server
 * and returns at once. With a generation already running: REJECT answers GENERATION_IN_PROGRESS, INTERRUPT
 * cancels it first.
 */
export async function sendMessage(ctx: GenerationDeps, input: SendMessageInput): Promise<SentMessage> {
  const { idempotencyKey, ...sent } = input;
  let contentTokens = 0;
  return runTurn<SentMessage>(ctx, {
    operation: 'sendMessage',
    sent,
    input,
    generate: true,
    check: () => checkUserContent(ctx, input.content),
    conversationId: async () => {
      if (input.parentMessageId != null) await checkParentMessage(ctx, input.conversationId, input.parentMessageId);
      return input.conversationId;
    },
    // After the rate limit is charged: counting a long text is the costly part of the checks.
    checkInSetting: async ({ conversation }) => {
      contentTokens = await tokensThatFit(ctx, conversation, input.content);
    },
    add: async (tx, { conversation, session }) => {
      const parent: Parent = input.parentMessageId ? { messageId: input.parentMessageId } : 'current';
      return [await insertMessage(ctx, tx, userMessage(conversation, session, input.content, contentTokens), parent)];
    },
    result: ({ added, reply, conversation }) => ({ userMessage: added[0], assistantMessage: reply!, conversation }),
    idOf: ({ assistantMessage }) => assistantMessage.id,
    replay: async (id) => {
      const { messages, conversation } = await replayed(ctx, id, 1);
      return { userMessage: messages[0], assistantMessage: messages[1], conversation };
    },
  });
}

/** A user's text: not blank, not too long. */
export function checkUserContent(ctx: GenerationDeps, content: string): void {
  if (content.trim() === '') throw invalidField('content', 'must not be empty');
  checkContent(content, ctx.config.maxMessageChars);
}

/** The newest turn always goes to the model: a text that cannot fit its context window at all is refused. */
export async function tokensThatFit(ctx: GenerationDeps, conversation: Conversation, content: string): Promise<number> {
  const budget = ctx.config.generation.contextMaxTokens;
  const tokens = await countTokens(content);
  const needed = tokens + (await systemPromptTokens(conversation));
  if (needed > budget) throw invalidField('content', `is ${needed} tokens with the system prompt; the model's context window takes ${budget}`);
  return tokens;
}

export function userMessage(conversation: Conversation, session: ChatSession | null, content: string, tokens: number): NewMessage {
  return {
    conversationId: conversation.id,
    chatSessionId: session?.id ?? null,
    role: 'USER',
    content,
    status: 'COMPLETED',
    tokens,
    windowTokens: tokens,
    completedAt: new Date(),
  };
}

export type GenerateReplyInput = TurnInput & { conversationId: string };
export type GeneratedReply = { assistantMessage: Message; conversation: Conversation };

/** An assistant reply to the conversation as it stands (after tool results appended, say). */
export async function generateReply(ctx: GenerationDeps, input: GenerateReplyInput): Promise<GeneratedReply> {
  const { idempotencyKey, ...sent } = input;
  return runTurn<GeneratedReply>(ctx, {
    operation: 'generateReply',
    sent,
    input,
    generate: true,
    conversationId: async () => input.conversationId,
    add: async () => [],
    result: ({ reply, conversation }) => ({ assistantMessage: reply!, conversation }),
    idOf: ({ assistantMessage }) => assistantMessage.id,
    replay: async (id) => {
      const { messages, conversation } = await replayed(ctx, id, 0);
      return { assistantMessage: messages[0], conversation };
    },
  });
}

export type ToolResultInput = { toolCallId: string; content: string; isError?: boolean | null };
export type SubmitToolResultsInput = TurnInput & { messageId: string; results: ToolResultInput[]; generate?: boolean | null };
export type SubmittedToolResults = { toolMessages: Message[]; assistantMessage: Message | null; conversation: Conversation };

/**
 * Answers the tool calls of a finished assistant message, the last of its branch: a TOOL message per
 * call under it, in the order of the calls, then (with `generate`) the next reply, as sendMessage starts
 * one. The results' branch becomes the one shown.
 */
export async function submitToolResults(ctx: GenerationDeps, input: SubmitToolResultsInput): Promise<SubmittedToolResults> {
  const { idempotencyKey, ...sent } = input;
  const generate = input.generate ?? true;
  let calls: StoredToolCall[] = [];
  let callMessage: Message;
  return runTurn<SubmittedToolResults>(ctx, {
    operation: 'submitToolResults',
    sent,
    input,
    generate,
    check: () => {
      input.results.forEach((result, i) => {
        checkLabel(result.toolCallId, `results[${i}].toolCallId`);
        checkContent(result.content, ctx.config.maxMessageChars, `results[${i}].content`);
      });
    },
    conversationId: async () => {
      callMessage = await findOwnMessage(ctx, input.messageId);
      calls = (callMessage.toolCalls as StoredToolCall[] | null) ?? [];
      if (callMessage.role !== 'ASSISTANT' || callMessage.status === 'STREAMING' || calls.length === 0) {
        throw invalidField('messageId', 'must be a finished assistant message with tool calls');
      }
      checkAnswers(calls, input.results);
      // A message stored per result, as appendMessage stores one a request (the mutation counted one).
      if (input.results.length > 1) await ctx.rateLimiter.request(ctx.viewer, input.results.length - 1, ctx.requestUnits);
      return callMessage.conversationId;
    },
    add: async (tx, { conversation, session }) => {
      const byCall = new Map(input.results.map((result) => [result.toolCallId, result]));
      const added: StoredMessage[] = [];
      for (const call of calls) {
        const result = byCall.get(call.id)!;
        const toolMessage: NewMessage = {
          conversationId: conversation.id,
          chatSessionId: session?.id ?? null,
          role: 'TOOL',
          content: result.content,
          toolCallId: call.id,
          isError: result.isError ?? false,
          status: 'COMPLETED',
          ...(await counted(result.content)),
          completedAt: new Date(),
        };
        // The first result goes under the calls, each next one under the result before it. On the embedded
        // database each insert runs on this thread: between them, other requests get their turn.
        if (added.length > 0) await setImmediate();
        const stored = await insertMessage(ctx, tx, toolMessage, added.length === 0 ? { messageId: callMessage.id } : 'current');
        // The calls must end their branch: a first result that is not their first child means they were
        // answered (or followed) meanwhile.
        if (added.length === 0 && stored.message.siblingIndex !== 1) throw callsNotLast();
        added.push(stored);
      }
      return added;
    },
    result: ({ added, reply, conversation }) => ({ toolMessages: added, assistantMessage: reply, conversation }),
    idOf: ({ toolMessages, assistantMessage }) => assistantMessage?.id ?? toolMessages.at(-1)!.id,
    replay: async (id) => {
      const answered = ((await findOwnMessage(ctx, input.messageId)).toolCalls as StoredToolCall[]).length;
      const { messages, conversation } = await replayed(ctx, id, generate ? answered : answered - 1);
      return { toolMessages: messages.slice(0, answered), assistantMessage: generate ? messages.at(-1)! : null, conversation };
    },
  });
}

const callsNotLast = () => conflict('The tool calls are not the last message of their branch: answered already, or followed by other messages');

const counted = async (text: string) => {
  const tokens = await countTokens(text);
  return { tokens, windowTokens: tokens };
};

/** Every call answered, once; no answer to a call it does not have. */
function checkAnswers(calls: StoredToolCall[], results: ToolResultInput[]): void {
  const ids = new Set(calls.map((call) => call.id));
  // Neither appendMessage nor a reply stores such calls (an answer to one id would be copied to each).
  if (ids.size !== calls.length) throw invalidField('messageId', 'has two tool calls with one id, which no results can answer');
  const seen = new Set<string>();
  results.forEach((result, i) => {
    if (!ids.has(result.toolCallId)) throw invalidField(`results[${i}].toolCallId`, `"${result.toolCallId}" is not a call of this message`);
    if (seen.has(result.toolCallId)) throw invalidField(`results[${i}].toolCallId`, `"${result.toolCallId}" is answered twice`);
    seen.add(result.toolCallId);
  });
  const missing = calls.filter((call) => !seen.has(call.id)).map((call) => call.id);
  if (missing.length) throw badUserInput(`results: no result for ${missing.join(', ')}`, [{ field: 'results', message: `missing results for ${missing.join(', ')}` }]);
}

/** A first result again: the message it names and the `before` messages before it on its branch. */
export async function replayed(ctx: GenerationDeps, lastId: string, before: number): Promise<{ messages: Message[]; conversation: Conversation }> {
  const last = await ctx.prisma.message.findFirstOrThrow({ where: { id: lastId } });
  const branch = [{ conversationId: last.conversationId, leafId: last.id }];
  const range = { after: null, before: last.position + 1, limit: before + 1, backward: true, roles: null };
  const [newestFirst, conversation] = await Promise.all([
    ctx.prisma.$queryRaw<Message[]>(branchRowsQuery(branch, range, Prisma.sql`m.*`)),
    findOwnConversation(ctx, last.conversationId),
  ]);
  return { messages: newestFirst.reverse(), conversation };
}

/**
 * Stops the provider call wherever in the deployment it runs, keeps the partial text, sets CANCELLED.
 * A message that is not streaming is returned unchanged.
 */
export async function cancelGeneration(ctx: GenerationDeps, messageId: string): Promise<Message> {
  const message = await findOwnMessage(ctx, messageId);
  if (message.status !== 'STREAMING') return message;
  await stopGeneration(ctx, message);
  return ctx.prisma.message.findUniqueOrThrow({ where: { id: messageId } });
}

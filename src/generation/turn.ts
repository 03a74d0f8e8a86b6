// A turn: the messages a client adds (a user message, tool results, or none) and the assistant reply that
// starts after them, stored in one transaction and started on the server. sendMessage, submitToolResults
// and generateReply are turns with the same rules: idempotency looked up first, the one-reply-per-
// conversation rule with its REJECT and INTERRUPT policies, the generation rate limit, the events.
import type { ChatSession, Conversation, Message } from '../generated/prisma/client.ts';
import type { GenerationDeps } from '../services.ts';
import { findOwnChatSession, findOwnConversation } from '../access.ts';
import { codeOf, generationInProgress, invalidField, isPrismaError, notFound, shuttingDown } from '../errors.ts';
import { earlierResult, idempotent, recordId, type Transaction } from '../idempotency.ts';
import { insertMessage, publishMessageAdded, type NewMessage, type Parent, type StoredMessage } from '../messages/store.ts';
import { checkTools, offeredTools, type OfferedTools, type ToolChoice } from '../tools.ts';
import { checkModel } from '../validation.ts';
import { stopActiveGeneration } from './stop.ts';
import { SEQUENCE_BLOCK } from './persister.ts';
import { chargeStored } from '../rate-limit.ts';
import type { ReplyPlace } from './streaming-replies.ts';
import { streamingMessageOf } from './streaming-rows.ts';

export type ActiveGenerationPolicy = 'REJECT' | 'INTERRUPT';

/** What every turn's input has besides its own fields. */
export type TurnInput = {
  model?: string | null;
  chatSessionId?: string | null;
  tools?: { name: string; description?: string | null; parameters?: unknown }[] | null;
  toolChoice?: ToolChoice | null;
  idempotencyKey?: string | null;
  onActiveGeneration?: ActiveGenerationPolicy | null;
};

/** The conversation a turn happens in, and what it generates with. */
export type TurnSetting = { conversation: Conversation; session: ChatSession | null; model: string; tools: OfferedTools };

/**
 * What a turn stores and returns: `added`, the client's messages; `reply`, the assistant message if one starts;
 * `newLaneBytes`, what the lanes they started store (charged once committed).
 */
export type TurnResult = { added: Message[]; reply: Message | null; conversation: Conversation; newLaneBytes: number };

type Turn<R> = {
  operation: string;
  /** What the client sent, without the key: the idempotency hash is of this alone. */
  sent: Record<string, unknown>;
  input: TurnInput;
  /** Checks of the turn's own input (cheap), made before anything is read. */
  check?: () => void;
  /** The conversation the turn is in (an owner's look-up; NOT_FOUND otherwise). */
  conversationId: () => Promise<string>;
  /** Checks that need the setting (and may cost: counting tokens), made after the rate limit is charged. */
  checkInSetting?: (setting: TurnSetting) => Promise<void>;
  /** Stores the client's messages, in the transaction that then starts the reply. */
  add: (tx: Transaction, setting: TurnSetting) => Promise<StoredMessage[]>;
  /** Where the reply goes: by default after what `add` stored (the current message). */
  replyUnder?: () => Parent;
  /** The model when the input names none, before the chat session's and the conversation's. */
  defaultModel?: () => string | null;
  /** Whether a reply starts (submitToolResults with generate: false stores results only). */
  generate: boolean;
  result: (stored: TurnResult) => R;
  idOf: (result: R) => string;
  replay: (resultId: string) => Promise<R>;
};

export async function runTurn<R>(ctx: GenerationDeps, turn: Turn<R>): Promise<R> {
  const { input } = turn;
  const keyed = {
    prisma: ctx.prisma,
    viewer: ctx.viewer,
    ttlMs: ctx.config.idempotencyTtlMs,
    operation: turn.operation,
    key: input.idempotencyKey,
    input: turn.sent, // nothing derived: a retry after the model changed is the same request
    replay: turn.replay,
  };
  // A retry returns the first result whatever has happened since (the conversation archived, say), before
  // any check or cost: it starts nothing.
  const earlier = await earlierResult(keyed);
  if (earlier) return earlier.value;

  if (turn.generate && !ctx.generation.accepting) throw shuttingDown();
  turn.check?.();
  const turnTools = input.tools ? checkTools(input.tools) : null;
  const setting = await settingOf(ctx, await turn.conversationId(), input, turnTools, turn.defaultModel?.() ?? null);
  if (turn.generate) await ctx.rateLimiter.generation(ctx.viewer);
  await turn.checkInSetting?.(setting);

  // INTERRUPT stops the running reply only for a turn refused for it alone: the turn is tried first, and only
  // a GENERATION_IN_PROGRESS (raised after the checks of the turn's messages and of the reply's place in the
  // tree; nothing stored) stops the running reply before it is tried again. Anything else leaves it be.
  const interrupt = turn.generate && input.onActiveGeneration === 'INTERRUPT';
  // A repeat racing its first request (not committed when looked up above) must not interrupt what that
  // started: the reply it would stop is left running when it is that one's result, and the repeat then
  // answers with it (idempotent(), below).
  const ownReply = input.idempotencyKey == null ? undefined : recordId(keyed);
  // Taken as the reply is stored (after the check that no other runs, so that an INTERRUPT takes the place of
  // the reply it stopped): the reply started in it keeps it until it ends.
  let place = null as ReplyPlace | null; // (set in takePlace: TypeScript would take it for null throughout)
  const takePlace = () => (place ??= ctx.generation.placeFor(ctx.viewer));
  const attempts = async () => {
    if (turn.generate && !ctx.generation.accepting) throw shuttingDown(); // again: a turn may have waited its turn
    for (let attempt = 0; ; attempt++) {
      try {
        const { value, replayed } = await idempotent<{ stored?: TurnResult; result: R }>({
          ...keyed,
          replay: async (id) => ({ result: await turn.replay(id) }),
          idOf: ({ result }) => turn.idOf(result),
          create: async (tx) => {
            const added = await turn.add(tx, setting);
            const reply = turn.generate ? await startReply(ctx, tx, setting, turn.replyUnder?.() ?? 'current', takePlace) : null;
            const conversation = reply?.conversation ?? added.at(-1)?.conversation ?? setting.conversation;
            const newLaneBytes = [...added, ...(reply ? [reply] : [])].reduce((sum, m) => sum + (m.newLaneBytes ?? 0), 0);
            const stored = { added: added.map((m) => m.message), reply: reply?.message ?? null, conversation, newLaneBytes };
            return { stored, result: turn.result(stored) };
          },
        });
        if (!replayed && value.stored) {
          const { added, reply, conversation, newLaneBytes } = value.stored;
          await chargeStored(ctx.rateLimiter, ctx.viewer, newLaneBytes);
          for (const message of [...added, ...(reply ? [reply] : [])]) publishMessageAdded(ctx.pubsub, { message, conversation });
          if (reply) {
            const job = { messageId: reply.id, answers: reply.parentId, conversation, model: setting.model, sequenceCeiling: reply.sequenceNumber, tools: setting.tools };
            await ctx.generation.start(job, place!);
            place = null; // the reply keeps it until it ends
          }
        }
        return value.result;
      } catch (error) {
        // A reply runs (or another turn started one meanwhile, after a stop): stop it, and try again.
        const inProgress = codeOf(error) === 'GENERATION_IN_PROGRESS';
        if (!interrupt || !inProgress || attempt >= 3) throw error;
        await stopActiveGeneration(ctx, setting.conversation.id, ownReply);
      }
    }
  };
  try {
    // Other instances' turns can still take the conversation between a stop and the next try: hence the tries.
    return await (interrupt ? ctx.generation.interruptingTurn(setting.conversation.id, attempts) : attempts());
  } finally {
    place?.release(); // no reply started in it: a replay, a refusal, a failure
  }
}

/** The conversation (ACTIVE, the viewer's), the chat session, the model and the tools of a turn. */
async function settingOf(
  ctx: GenerationDeps,
  conversationId: string,
  input: TurnInput,
  turnTools: OfferedTools['tools'] | null,
  defaultModel: string | null,
): Promise<TurnSetting> {
  const conversation = await findOwnConversation(ctx, conversationId);
  if (conversation.status !== 'ACTIVE') throw notFound('Conversation');
  const session = input.chatSessionId ? await findOwnChatSession(ctx, input.chatSessionId) : null;
  if (session && session.conversationId !== conversation.id) throw invalidField('chatSessionId', 'belongs to another conversation');
  // Checked again as the turn is stored; here before the generation rate limit is charged.
  if (session && session.status !== 'ACTIVE') throw invalidField('chatSessionId', 'the chat session is completed');
  const model = input.model ?? defaultModel ?? session?.model ?? conversation.model;
  if (input.model != null) checkModel(ctx.models, input.model);
  else if (!ctx.models.has(model)) throw invalidField('model', `the conversation's model "${model}" is no longer served; pass model`);
  const tools = offeredTools(turnTools, conversation.tools, input.toolChoice);
  if (tools.choice === 'REQUIRED' && tools.tools.length === 0) throw invalidField('toolChoice', 'REQUIRED needs tools to choose from');
  return { conversation, session, model, tools };
}

/**
 * The empty STREAMING assistant message, after the turn's own messages, in the same transaction; `takePlace`
 * takes the viewer's place for it (RATE_LIMITED when they hold all theirs) once no other reply runs here.
 */
async function startReply(ctx: GenerationDeps, tx: Transaction, { conversation, session, model }: TurnSetting, under: Parent, takePlace: () => ReplyPlace): Promise<StoredMessage> {
  // The last check, after those of the reply's place in the tree (so that an INTERRUPT stops nothing for a
  // turn refused there), then the viewer's place for it: storing a message locks the conversation row, so
  // this check sees every committed turn.
  const claimReply = async () => {
    const active = await streamingMessageOf(tx, conversation.id);
    if (active) throw generationInProgress();
    takePlace();
  };
  // The database holds the rule too (one STREAMING message per conversation: a unique index).
  const reply: NewMessage = {
    conversationId: conversation.id,
    chatSessionId: session?.id ?? null,
    role: 'ASSISTANT',
    content: '',
    status: 'STREAMING',
    model,
    tokens: 0,
    runnerId: ctx.generation.runnerId,
    heartbeatAt: new Date(),
    sequenceNumber: SEQUENCE_BLOCK, // the ceiling of its event numbers (see persister.ts)
  };
  return insertMessage(ctx, tx, reply, under, { beforeWrite: claimReply }).catch((error) => {
    throw isPrismaError(error, 'P2002') ? generationInProgress() : error;
  });
}

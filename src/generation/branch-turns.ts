// The turns that add an alternative instead of overwriting history: editMessage (a user message's
// sibling with the new text, and with `generate` its reply) and regenerateMessage (an assistant
// message's sibling, generated from the branch its original saw). The new sibling becomes current; the
// original and everything after it stay, one branch away.
import type { Conversation, Message } from '../generated/prisma/client.ts';
import type { GenerationDeps } from '../services.ts';
import { findOwnMessage } from '../access.ts';
import { invalidField } from '../errors.ts';
import { insertMessage, type Parent } from '../messages/store.ts';
import { checkUserContent, replayed, tokensThatFit, userMessage } from './service.ts';
import { runTurn, type TurnInput } from './turn.ts';

export type EditMessageInput = TurnInput & { messageId: string; content: string; generate?: boolean | null };
export type EditedMessage = { userMessage: Message; assistantMessage: Message | null; conversation: Conversation };

/** Where a sibling of `message` goes: under the same parent (or first, beside a first message). */
const besides = (message: Message): Parent => (message.parentId ? { messageId: message.parentId } : 'first');

export async function editMessage(ctx: GenerationDeps, input: EditMessageInput): Promise<EditedMessage> {
  const { idempotencyKey, ...sent } = input;
  const generate = input.generate ?? true;
  let original: Message;
  let contentTokens = 0;
  return runTurn<EditedMessage>(ctx, {
    operation: 'editMessage',
    sent,
    input,
    generate,
    check: () => checkUserContent(ctx, input.content),
    conversationId: async () => {
      original = await findOwnMessage(ctx, input.messageId);
      if (original.role !== 'USER') throw invalidField('messageId', 'must be a USER message: only what the user said is edited');
      return original.conversationId;
    },
    checkInSetting: async ({ conversation }) => {
      contentTokens = await tokensThatFit(ctx, conversation, input.content);
    },
    add: async (tx, { conversation, session }) => [await insertMessage(ctx, tx, userMessage(conversation, session, input.content, contentTokens), besides(original))],
    result: ({ added, reply, conversation }) => ({ userMessage: added[0], assistantMessage: reply, conversation }),
    idOf: ({ userMessage, assistantMessage }) => assistantMessage?.id ?? userMessage.id,
    replay: async (id) => {
      const { messages, conversation } = await replayed(ctx, id, generate ? 1 : 0);
      return { userMessage: messages[0], assistantMessage: generate ? messages[1] : null, conversation };
    },
  });
}

export type RegenerateMessageInput = TurnInput & { messageId: string };
export type RegeneratedMessage = { assistantMessage: Message; conversation: Conversation };

/** By default with the model that wrote the original, while it is served. */
export async function regenerateMessage(ctx: GenerationDeps, input: RegenerateMessageInput): Promise<RegeneratedMessage> {
  const { idempotencyKey, ...sent } = input;
  let original: Message;
  return runTurn<RegeneratedMessage>(ctx, {
    operation: 'regenerateMessage',
    sent,
    input,
    generate: true,
    conversationId: async () => {
      original = await findOwnMessage(ctx, input.messageId);
      if (original.role !== 'ASSISTANT') throw invalidField('messageId', 'must be an ASSISTANT message');
      if (original.status === 'STREAMING') throw invalidField('messageId', 'is still being generated: cancel it, or wait for it to finish');
      return original.conversationId;
    },
    defaultModel: () => (original.model && ctx.models.has(original.model) ? original.model : null),
    add: async () => [],
    replyUnder: () => besides(original),
    result: ({ reply, conversation }) => ({ assistantMessage: reply!, conversation }),
    idOf: ({ assistantMessage }) => assistantMessage.id,
    replay: async (id) => {
      const { messages, conversation } = await replayed(ctx, id, 0);
      return { assistantMessage: messages[0], conversation };
    },
  });
}

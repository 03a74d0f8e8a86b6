// Titles for untitled conversations, so that a sidebar does not fill with rows of "New chat". When a
// reply of an untitled conversation ends (completed, stopped or failed; not interrupted by a shutdown),
// the server names it from its first user message: in a few words by the model that replied, or with
// builtin:echo (or when the model fails) by the message's first words. Once per conversation and
// process; a title a client set meanwhile is never overwritten.
import type { Conversation, PrismaClient } from '../generated/prisma/client.ts';
import type { Logger } from '../logger.ts';
import type { ProviderStreams } from '../models/provider-streams.ts';
import { ECHO_MODEL_ID } from '../models/registry.ts';
import { publishConversationEvent, type AppPubSub } from '../pubsub.ts';
import { cutText } from '../text-cut.ts';

export type TitleDeps = { prisma: PrismaClient; providers: ProviderStreams; pubsub: AppPubSub; log: Logger; mode: 'model' | 'first-words' | 'off' };

/** How much of the first message the model is shown: a title needs no more. */
const MESSAGE_SAMPLE = 2_000;
const MAX_TITLE = 60;
const FIRST_WORDS = 6;
/** A model that takes longer than this for a few words is not waited for (the first words are used). */
const MODEL_TIMEOUT_MS = 15_000;
/** Titles being written at once, at most: past it, a conversation stays untitled until a later reply. */
const MAX_PENDING = 16;
/** Conversations remembered as tried (once per conversation and process, whatever came of it). */
const MAX_TRIED = 10_000;

const INSTRUCTION =
  'Write a title of at most six words for a conversation that begins with the message below. ' +
  'Answer with the title alone: no quotes, no final period.';

export class ConversationTitler {
  readonly #deps: TitleDeps;
  readonly #pending = new Map<AbortController, Promise<void>>();
  readonly #tried = new Set<string>();

  constructor(deps: TitleDeps) {
    this.#deps = deps;
  }

  /** After a reply: names the conversation if it has no title yet (in the background). */
  /** `replyFailed`: the model is not asked again (a vendor that failed, or misbehaved, would be asked twice); the first words name it. */
  afterReply(conversation: Pick<Conversation, 'id' | 'orgId' | 'userId' | 'title'>, model: string, { replyFailed = false } = {}): void {
    if (conversation.title !== null || this.#deps.mode === 'off') return;
    if (this.#tried.has(conversation.id) || this.#pending.size >= MAX_PENDING) return;
    if (this.#tried.size >= MAX_TRIED) this.#tried.clear();
    this.#tried.add(conversation.id);
    const controller = new AbortController();
    const naming = this.#name(conversation, replyFailed ? null : model, controller.signal)
      .catch((err) => this.#deps.log.warn({ err, conversationId: conversation.id }, 'could not title the conversation'))
      .finally(() => this.#pending.delete(controller));
    this.#pending.set(controller, naming);
  }

  /** Shutdown: titles still asked of a model are given up (those conversations stay untitled), the rest written. */
  async close(): Promise<void> {
    for (const controller of this.#pending.keys()) controller.abort(new Error('shutting down'));
    await Promise.all(this.#pending.values());
  }

  /** `model`: the one to ask for a title; none, the first words. */
  async #name(conversation: Pick<Conversation, 'id' | 'orgId' | 'userId'>, model: string | null, signal: AbortSignal): Promise<void> {
    const { prisma, pubsub } = this.#deps;
    const first = await prisma.message.findFirst({
      where: { conversationId: conversation.id, role: 'USER' },
      orderBy: [{ position: 'asc' }, { createdAt: 'asc' }],
      select: { content: true },
    });
    const text = cutText(first?.content ?? '', MESSAGE_SAMPLE).trim();
    if (!text) return;
    const title = (!model || model === ECHO_MODEL_ID || this.#deps.mode === 'first-words' ? null : await this.#byModel(model, text, signal)) ?? firstWords(text);
    if (!title || signal.aborted) return;
    const { count } = await prisma.conversation.updateMany({ where: { id: conversation.id, title: null }, data: { title, updatedAt: new Date() } });
    if (count) publishConversationEvent(pubsub, conversation, { type: 'CONVERSATION_UPDATED', conversationId: conversation.id, messageId: null });
  }

  /** The model's title, or null if it fails, says nothing usable or takes too long. */
  async #byModel(model: string, text: string, signal: AbortSignal): Promise<string | null> {
    const request = {
      prompt: [
        { role: 'system' as const, content: INSTRUCTION },
        { role: 'user' as const, content: [{ type: 'text' as const, text }] },
      ],
    };
    let answer = '';
    try {
      const timeout = AbortSignal.any([signal, AbortSignal.timeout(MODEL_TIMEOUT_MS)]);
      for await (const batch of this.#deps.providers.stream(model, request, timeout)) {
        for (const part of batch) if (part.kind === 'text') answer += part.text;
        if (answer.length > 4 * MAX_TITLE) break;
      }
    } catch (err) {
      this.#deps.log.info({ err, model }, 'the model gave no title; the first words are used');
      return null;
    }
    return cleanTitle(answer);
  }
}

/** The first words of a message, as a title: one line, at most six words and 60 characters. */
export function firstWords(text: string): string | null {
  const words = text.replace(/[#*_`>[\]]/g, ' ').split(/\s+/).filter(Boolean).slice(0, FIRST_WORDS);
  return cleanTitle(words.join(' '));
}

function cleanTitle(raw: string): string | null {
  const line = raw.split('\n').find((l) => l.trim())?.trim() ?? '';
  const unquoted = line.replace(/^["'“”«»]+|["'“”«»]+$/g, '').replace(/^title:\s*/i, '').replace(/[.\s]+$/, '');
  if (!unquoted) return null;
  if (unquoted.length <= MAX_TITLE) return unquoted;
  const cut = cutText(unquoted, MAX_TITLE - 1);
  return `${cut.slice(0, cut.lastIndexOf(' ') > 20 ? cut.lastIndexOf(' ') : cut.length)}…`;
}

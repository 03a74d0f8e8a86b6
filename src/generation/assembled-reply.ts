// A reply put together from the parts a provider streams: the text, the reasoning (and its blocks, with the
// metadata a provider wants back later), the tool calls in OpenAI's shape, why it stopped and its usage;
// and, for each part, the stream event it makes (numbered by the runner).
import { mergeMetadata, type FinishReason, type ProviderMetadata, type ReplyPart, type Usage } from '../models/reply.ts';
import type { StreamEvent } from '../streams/events.ts';
import { cutPoint } from '../text-cut.ts';

/** OpenAI's shape, as Message.toolCalls holds it. */
export type StoredToolCall = { id: string; type: 'function'; function: { name: string; arguments: string } };

/** A reasoning block as a provider gave it: sent back to that provider on a later turn, never shown. */
export type ReasoningPart = { text: string; providerOptions?: ProviderMetadata };

type Numberless<E> = E extends StreamEvent ? Omit<E, 'sequenceNumber'> : never;
export type ReplyEvent = Numberless<Extract<StreamEvent, { type: 'delta' | 'reasoning' | 'toolCallDelta' | 'toolCall' }>>;

/**
 * What one reply may take: past it the reply is cut, as a model that reached its own limit (LENGTH). (How
 * many tool calls it may make is bounded where the provider's parts are read: readReply fails the reply.)
 */
export type ReplyLimits = {
  /** Characters: text, reasoning (and a provider's metadata for it), tool calls' arguments, ids and names. */
  maxChars: number;
};

export class AssembledReply {
  content = '';
  reasoning = '';
  readonly toolCalls: StoredToolCall[] = [];
  usage: Usage | undefined;
  finishReason: FinishReason | undefined;
  /** Characters taken so far (see ReplyLimits). */
  characters = 0;
  /** A limit was reached: the part that reached it was taken in part or not at all, and nothing more is taken. */
  full = false;
  readonly #blocks = new Map<string, ReasoningPart>();
  /** The tool calls begun (streamed, or sent whole), by id: the characters of their arguments counted so far. */
  readonly #calls = new Map<string, number>();

  constructor(readonly limits: ReplyLimits) {}

  /** Takes one part (as much of it as the limits leave room for); returns the event it makes, if any. */
  add(part: ReplyPart): ReplyEvent | null {
    if (this.full) return null;
    switch (part.kind) {
      case 'text': {
        const text = this.#take(part.text);
        if (!text) return null;
        this.content += text;
        return { type: 'delta', delta: text };
      }
      case 'reasoning': {
        if (part.metadata && !this.#takeWhole(JSON.stringify(part.metadata).length)) return null;
        const text = this.#take(part.text);
        const block = this.#blocks.get(part.block) ?? { text: '' };
        block.text += text;
        const providerOptions = mergeMetadata(block.providerOptions, part.metadata);
        this.#blocks.set(part.block, providerOptions ? { ...block, providerOptions } : block);
        if (!text) return null;
        this.reasoning += text;
        return { type: 'reasoning', delta: text };
      }
      case 'toolInput': {
        if (!this.#beginCall(part.id, part.name)) return null;
        const delta = this.#take(part.delta);
        if (!delta) return null;
        this.#calls.set(part.id, this.#calls.get(part.id)! + delta.length);
        return { type: 'toolCallDelta', toolCallId: part.id, name: part.name, argumentsDelta: delta };
      }
      case 'toolCall': {
        if (!this.#beginCall(part.id, part.name)) return null;
        // Sent whole, or more than streamed. A call's arguments are JSON: one that does not fit is left out whole, never cut.
        if (!this.#takeWhole(Math.max(0, part.arguments.length - this.#calls.get(part.id)!))) return null;
        this.toolCalls.push({ id: part.id, type: 'function', function: { name: part.name, arguments: part.arguments } });
        return { type: 'toolCall', toolCall: { id: part.id, name: part.name, arguments: part.arguments } };
      }
      case 'finish':
        this.usage = part.usage;
        this.finishReason = part.reason;
        return null;
    }
  }

  /** A call's first part counts its id and name, if there is room for them. */
  #beginCall(id: string, name: string): boolean {
    if (this.#calls.has(id)) return true;
    if (!this.#takeWhole(id.length + name.length)) return false;
    this.#calls.set(id, 0);
    return true;
  }

  /** As much of `text` as there is room for (the limit reached, `full`), counted. */
  #take(text: string): string {
    const room = this.limits.maxChars - this.characters;
    if (text.length >= room) {
      this.full = true;
      // Never between the halves of a surrogate pair; a high half at the end goes too (its low half comes next).
      text = text.slice(0, cutPoint(text, Math.max(0, room)));
    }
    this.characters += text.length;
    return text;
  }

  /** Counts `characters` if there is room for them all (the limit reached, `full`); else the limit is passed, `full`, and nothing is counted. */
  #takeWhole(characters: number): boolean {
    if (this.characters + characters > this.limits.maxChars) {
      this.full = true;
      return false;
    }
    this.characters += characters;
    if (this.characters === this.limits.maxChars) this.full = true;
    return true;
  }

  /** The reasoning blocks in the order they began. */
  get reasoningParts(): ReasoningPart[] {
    return [...this.#blocks.values()];
  }

  /** What the reply's tokens are counted from when the provider does not report them. */
  get countedText(): string {
    return this.content + this.toolCalls.map(callText).join('');
  }
}

/** What a tool call sends to a model on later turns (its id, name and arguments), as tokens are counted from it. */
export const callText = (call: StoredToolCall) => call.id + call.function.name + call.function.arguments;


// A reply put together from the parts a provider streams: the text, the reasoning (and its blocks, with the
// metadata a provider wants back later), the tool calls in OpenAI's shape, why it stopped and its usage;
// and, for each part, the stream event it makes (numbered by the runner).
import { mergeMetadata, type FinishReason, type ProviderMetadata, type ReplyPart, type Usage } from '../models/reply.ts';
import type { StreamEvent } from '../streams/events.ts';

/** OpenAI's shape, as Message.toolCalls holds it. */
export type StoredToolCall = { id: string; type: 'function'; function: { name: string; arguments: string } };

/** A reasoning block as a provider gave it: sent back to that provider on a later turn, never shown. */
export type ReasoningPart = { text: string; providerOptions?: ProviderMetadata };

type Numberless<E> = E extends StreamEvent ? Omit<E, 'sequenceNumber'> : never;
export type ReplyEvent = Numberless<Extract<StreamEvent, { type: 'delta' | 'reasoning' | 'toolCallDelta' | 'toolCall' }>>;

export class AssembledReply {
  content = '';
  reasoning = '';
  readonly toolCalls: StoredToolCall[] = [];
  usage: Usage | undefined;
  finishReason: FinishReason | undefined;
  /** Characters taken so far: text, reasoning, and tool calls' arguments (as they stream, or whole). */
  characters = 0;
  readonly #blocks = new Map<string, ReasoningPart>();
  /** Characters of each tool call's arguments counted while they streamed. */
  readonly #streamedArguments = new Map<string, number>();

  /** Takes one part; returns the event it makes, if any. */
  add(part: ReplyPart): ReplyEvent | null {
    switch (part.kind) {
      case 'text':
        if (!part.text) return null;
        this.content += part.text;
        this.characters += part.text.length;
        return { type: 'delta', delta: part.text };
      case 'reasoning': {
        const block = this.#blocks.get(part.block) ?? { text: '' };
        block.text += part.text;
        const providerOptions = mergeMetadata(block.providerOptions, part.metadata);
        this.#blocks.set(part.block, providerOptions ? { ...block, providerOptions } : block);
        if (!part.text) return null;
        this.reasoning += part.text;
        this.characters += part.text.length;
        return { type: 'reasoning', delta: part.text };
      }
      case 'toolInput':
        this.characters += part.delta.length;
        this.#streamedArguments.set(part.id, (this.#streamedArguments.get(part.id) ?? 0) + part.delta.length);
        return { type: 'toolCallDelta', toolCallId: part.id, name: part.name, argumentsDelta: part.delta };
      case 'toolCall':
        this.characters += Math.max(0, part.arguments.length - (this.#streamedArguments.get(part.id) ?? 0)); // sent whole, or more than streamed
        this.toolCalls.push({ id: part.id, type: 'function', function: { name: part.name, arguments: part.arguments } });
        return { type: 'toolCall', toolCall: { id: part.id, name: part.name, arguments: part.arguments } };
      case 'finish':
        this.usage = part.usage;
        this.finishReason = part.reason;
        return null;
    }
  }

  /** The reasoning blocks in the order they began. */
  get reasoningParts(): ReasoningPart[] {
    return [...this.#blocks.values()];
  }

  /** What the reply's tokens are counted from when the provider does not report them. */
  get countedText(): string {
    return this.content + this.toolCalls.map((call) => call.function.arguments).join('');
  }
}

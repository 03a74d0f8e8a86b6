// Token counts from a real tokenizer (o200k_base, the encoding of current OpenAI models), not characters / 4.
import { Tiktoken } from 'js-tiktoken/lite';
import o200kBase from 'js-tiktoken/ranks/o200k_base';

let encoder: Tiktoken | undefined;

const tokenizer = (): Tiktoken => (encoder ??= new Tiktoken(o200kBase));

/**
 * Builds the tokenizer: about a second of CPU (it parses 200,000 ranks), during which nothing else runs.
 * The app does it while starting, so that it holds up no request and no stream.
 */
export function loadTokenizer(): void {
  tokenizer();
}

export function countTokens(text: string): number {
  return text === '' ? 0 : tokenizer().encode(text).length;
}

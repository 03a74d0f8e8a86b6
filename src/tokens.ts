// Token counts from a real tokenizer (o200k_base, the encoding of current OpenAI models), not characters / 4.
import { Tiktoken } from 'js-tiktoken/lite';
import o200kBase from 'js-tiktoken/ranks/o200k_base';

let encoder: Tiktoken | undefined; // built on first use: loading the ranks takes a moment

export function countTokens(text: string): number {
  if (text === '') return 0;
  encoder ??= new Tiktoken(o200kBase);
  return encoder.encode(text).length;
}

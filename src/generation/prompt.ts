// A conversation's context window in the AI SDK's provider-level prompt format (LanguageModelV3Prompt),
// which every provider package (OpenAI, Anthropic, OpenAI-compatible) turns into its own wire format.
import type { LanguageModelV3Prompt } from '@ai-sdk/provider';
import type { Message } from '../generated/prisma/client.ts';

type ToolCall = { id: string; type: 'function'; function: { name: string; arguments: string } };

export function toPrompt(window: Message[]): LanguageModelV3Prompt {
  const toolNames = new Map<string, string>(); // a tool result names the call it answers; providers want the tool too
  const prompt: LanguageModelV3Prompt = [];
  for (const message of window) {
    switch (message.role) {
      case 'SYSTEM':
        prompt.push({ role: 'system', content: message.content });
        break;
      case 'USER':
        prompt.push({ role: 'user', content: [{ type: 'text', text: message.content }] });
        break;
      case 'ASSISTANT': {
        const calls = (message.toolCalls as ToolCall[] | null) ?? [];
        for (const call of calls) toolNames.set(call.id, call.function.name);
        prompt.push({
          role: 'assistant',
          content: [
            ...(message.content ? [{ type: 'text' as const, text: message.content }] : []),
            ...calls.map((call) => ({ type: 'tool-call' as const, toolCallId: call.id, toolName: call.function.name, input: parseArguments(call.function.arguments) })),
          ],
        });
        break;
      }
      case 'TOOL':
        prompt.push({
          role: 'tool',
          content: [{ type: 'tool-result', toolCallId: message.toolCallId!, toolName: toolNames.get(message.toolCallId!) ?? 'unknown', output: { type: 'text', value: message.content } }],
        });
        break;
    }
  }
  return prompt;
}

function parseArguments(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

// A conversation's context window as the AI SDK's messages.
import type { ModelMessage } from 'ai';
import type { Message } from '../generated/prisma/client.ts';

type ToolCall = { id: string; type: 'function'; function: { name: string; arguments: string } };

export function toModelMessages(window: Message[]): ModelMessage[] {
  const toolNames = new Map<string, string>(); // a tool result names the call it answers; the SDK wants the tool too
  const messages: ModelMessage[] = [];
  for (const message of window) {
    switch (message.role) {
      case 'SYSTEM':
        messages.push({ role: 'system', content: message.content });
        break;
      case 'USER':
        messages.push({ role: 'user', content: message.content });
        break;
      case 'ASSISTANT': {
        const calls = (message.toolCalls as ToolCall[] | null) ?? [];
        if (calls.length === 0) {
          messages.push({ role: 'assistant', content: message.content });
          break;
        }
        for (const call of calls) toolNames.set(call.id, call.function.name);
        messages.push({
          role: 'assistant',
          content: [
            ...(message.content ? [{ type: 'text' as const, text: message.content }] : []),
            ...calls.map((call) => ({ type: 'tool-call' as const, toolCallId: call.id, toolName: call.function.name, input: parseArguments(call.function.arguments) })),
          ],
        });
        break;
      }
      case 'TOOL':
        messages.push({
          role: 'tool',
          content: [{ type: 'tool-result', toolCallId: message.toolCallId!, toolName: toolNames.get(message.toolCallId!) ?? 'unknown', output: { type: 'text', value: message.content } }],
        });
        break;
    }
  }
  return messages;
}

function parseArguments(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

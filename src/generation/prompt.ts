// A conversation's context window, and the tools a turn offers, as the AI SDK's provider-level request
// (LanguageModelV3Prompt and tools), which every provider package (OpenAI, Anthropic, OpenAI-compatible)
// turns into its own wire format.
import type { LanguageModelV3FunctionTool, LanguageModelV3Prompt, LanguageModelV3ToolChoice } from '@ai-sdk/provider';
import type { Message } from '../generated/prisma/client.ts';
import type { ReplyRequest } from '../models/reply.ts';
import type { OfferedTools } from '../tools.ts';
import type { ReasoningPart, StoredToolCall } from './assembled-reply.ts';

const CHOICES: Record<OfferedTools['choice'], LanguageModelV3ToolChoice> = { AUTO: { type: 'auto' }, NONE: { type: 'none' }, REQUIRED: { type: 'required' } };

export function replyRequest(window: Message[], offered: OfferedTools): ReplyRequest {
  const prompt = toPrompt(window);
  if (offered.tools.length) {
    const tools = offered.tools.map((tool): LanguageModelV3FunctionTool => ({
      type: 'function',
      name: tool.name,
      ...(tool.description && { description: tool.description }),
      inputSchema: { type: 'object', ...tool.parameters } as LanguageModelV3FunctionTool['inputSchema'],
    }));
    return { prompt, tools, toolChoice: CHOICES[offered.choice] };
  }
  // A history holding tool calls, on a turn that offers no tool: some providers (Anthropic) refuse tool
  // calls and results in a request that defines no tools. The tools the history used are defined, and none
  // may be called.
  const used = [...new Set(window.flatMap((message) => toolCallsOf(message).map((call) => call.function.name)))];
  if (used.length === 0) return { prompt };
  return { prompt, tools: used.map((name) => ({ type: 'function', name, inputSchema: { type: 'object' } })), toolChoice: { type: 'none' } };
}

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
        const calls = toolCallsOf(message);
        for (const call of calls) toolNames.set(call.id, call.function.name);
        // Reasoning goes back only as the provider gave it (a signed block), never as plain text.
        const reasoning = ((message.reasoningParts as ReasoningPart[] | null) ?? []).filter((part) => part.providerOptions);
        const content = [
          ...reasoning.map((part) => ({ type: 'reasoning' as const, text: part.text, providerOptions: part.providerOptions })),
          ...(message.content ? [{ type: 'text' as const, text: message.content }] : []),
          ...calls.map((call) => ({ type: 'tool-call' as const, toolCallId: call.id, toolName: call.function.name, input: parseArguments(call.function.arguments) })),
        ];
        if (content.length) prompt.push({ role: 'assistant', content }); // an empty reply (cancelled at once) says nothing
        break;
      }
      case 'TOOL':
        prompt.push({
          role: 'tool',
          content: [
            {
              type: 'tool-result',
              toolCallId: message.toolCallId!,
              toolName: toolNames.get(message.toolCallId!) ?? 'unknown',
              output: { type: message.isError ? 'error-text' : 'text', value: message.content },
            },
          ],
        });
        break;
    }
  }
  return prompt;
}

const toolCallsOf = (message: Message): StoredToolCall[] => (message.role === 'ASSISTANT' ? ((message.toolCalls as StoredToolCall[] | null) ?? []) : []);

function parseArguments(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

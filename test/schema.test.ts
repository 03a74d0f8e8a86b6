import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type GraphQLObjectType, lexicographicSortSchema, printSchema } from 'graphql';
import { schema } from '../src/schema/index.ts';

describe('schema.graphql', () => {
  it('is the schema built in code (run `npm run schema:print` after changing it)', () => {
    expect(fs.readFileSync('schema.graphql', 'utf8')).toBe(printSchema(lexicographicSortSchema(schema)) + '\n');
  });

  it('has the contract\'s operations with their argument and payload names', () => {
    const fields = (name: string) => Object.keys((schema.getType(name) as any).getFields());
    expect(fields('Query')).toEqual(expect.arrayContaining(['node', 'nodes', 'viewer', 'conversation', 'conversations', 'models']));
    expect(fields('Mutation')).toEqual(
      expect.arrayContaining([
        'createConversation', 'updateConversation', 'archiveConversation', 'unarchiveConversation', 'deleteConversation',
        'restoreConversation', 'purgeConversation', 'appendMessage', 'createChatSession', 'completeChatSession',
      ]),
    );
    expect(fields('Subscription')).toEqual(expect.arrayContaining(['conversationEvents', 'conversationsChanged']));
    for (const payload of ['CreateConversationPayload', 'UpdateConversationPayload', 'ConversationPayload']) expect(fields(payload)).toEqual(['conversation']);
    expect(fields('PurgeConversationPayload')).toEqual(['purgedConversationId']);
    expect(fields('AppendMessagePayload').sort()).toEqual(['conversation', 'message']);
    // Read from the fields (the printed SDL spreads arguments with descriptions over several lines).
    const signature = (type: string, field: string) => {
      const { args, type: result } = (schema.getType(type) as GraphQLObjectType).getFields()[field];
      const defaultOf = (value: unknown) => (value === undefined ? '' : ` = ${value}`);
      return `${field}(${args.map((arg) => `${arg.name}: ${arg.type}${defaultOf(arg.defaultValue)}`).sort().join(', ')}): ${result}`;
    };
    expect(signature('Query', 'conversations')).toBe(
      'conversations(after: String, before: String, filter: ConversationFilter, first: Int, last: Int, orderBy: ConversationOrder = UPDATED_AT_DESC): ConversationConnection!',
    );
    expect(signature('Conversation', 'messages')).toBe('messages(after: String, before: String, first: Int, last: Int, leafId: ID, roles: [MessageRole!]): MessageConnection!');
    expect(signature('Conversation', 'contextWindow')).toBe('contextWindow(maxTokens: Int!): [Message!]!');
    for (const [mutation, payload, payloadFields] of [
      ['editMessage', 'EditMessagePayload', ['assistantMessage', 'conversation', 'userMessage']],
      ['regenerateMessage', 'RegenerateMessagePayload', ['assistantMessage', 'conversation']],
      ['switchBranch', 'ConversationPayload', ['conversation']],
      ['forkConversation', 'ForkConversationPayload', ['conversation']],
    ] as const) {
      expect(signature('Mutation', mutation)).toBe(`${mutation}(input: ${mutation[0].toUpperCase()}${mutation.slice(1)}Input!): ${payload}!`);
      expect(fields(payload).sort()).toEqual(payloadFields);
    }
    for (const field of ['parent', 'siblingIndex', 'siblingCount', 'previousSibling', 'nextSibling']) expect(fields('Message')).toContain(field);
    expect(fields('Conversation')).toContain('currentMessage');
    for (const input of ['AppendMessageInput', 'SendMessageInput']) expect(fields(input)).toContain('parentMessageId');
    expect(signature('Query', 'nodes')).toBe('nodes(ids: [ID!]!): [Node]!');
  });
});

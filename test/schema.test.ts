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
    const sdl = printSchema(lexicographicSortSchema(schema));
    expect(sdl).toContain(
      'conversations(after: String, before: String, filter: ConversationFilter, first: Int, last: Int, orderBy: ConversationOrder = UPDATED_AT_DESC): ConversationConnection!',
    );
    expect(sdl).toContain('messages(after: String, before: String, first: Int, last: Int, roles: [MessageRole!]): MessageConnection!');
    const contextWindow = (schema.getType('Conversation') as GraphQLObjectType).getFields().contextWindow;
    expect(contextWindow.args.map((arg) => `${arg.name}: ${arg.type}`)).toEqual(['maxTokens: Int!']);
    expect(String(contextWindow.type)).toBe('[Message!]!');
    expect(sdl).toContain('nodes(ids: [ID!]!): [Node]!');
  });
});

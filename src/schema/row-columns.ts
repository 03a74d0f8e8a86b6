// The columns of a row that a selection of its type's fields needs: a list reads only those, since
// reading and mapping whole rows (dozens of columns, JSON among them) costs more than answering the few
// fields a list shows. A field not listed here makes the list read whole rows, so a field added to a type
// is right before it is fast. A partial row is typed as a whole one: its fields beyond the columns read
// are undefined, and it never goes where whole rows are expected (a loader's cache). A "whole" row is one
// without its stored values (src/stored-values.ts): fields that show them read them apart, within the response's
// budget, and need no column here.
import type { Conversation as ConversationRow, Message as MessageRow } from '../generated/prisma/client.ts';

type ColumnsOfFields<Row> = {
  /** What every partial row holds: identity, ownership, and what cursors and links are made of. */
  keys: readonly (keyof Row)[];
  /** Each field's columns beyond the keys. */
  fields: Readonly<Record<string, readonly (keyof Row)[]>>;
};

export const MESSAGE_COLUMNS: ColumnsOfFields<MessageRow> = {
  keys: ['id', 'conversationId', 'parentId', 'siblingIndex', 'position', 'role', 'status'],
  fields: {
    __typename: [],
    id: [],
    position: [],
    siblingIndex: [],
    role: [],
    status: [],
    conversation: [],
    parent: [],
    siblingCount: [],
    previousSibling: [],
    nextSibling: [],
    content: [],
    model: ['model'],
    toolCalls: [],
    toolCallId: ['toolCallId'],
    isError: ['isError'],
    reasoning: [],
    finishReason: ['finishReason'],
    tokens: ['tokens'],
    usage: ['promptTokens', 'completionTokens', 'reasoningTokens', 'cachedPromptTokens'],
    error: ['error'],
    metadata: [],
    createdAt: ['createdAt'],
    completedAt: ['completedAt'],
    chatSession: ['chatSessionId'],
  },
};

export const CONVERSATION_COLUMNS: ColumnsOfFields<ConversationRow> = {
  // Every order's key is kept, so a cursor can be made whatever the order.
  keys: ['id', 'orgId', 'userId', 'status', 'currentMessageId', 'messageCount', 'updatedAt', 'createdAt', 'lastActivityAt'],
  fields: {
    __typename: [],
    id: [],
    status: [],
    messageCount: [],
    updatedAt: [],
    createdAt: [],
    messages: [],
    currentMessage: [],
    activeGeneration: [],
    chatSessions: [],
    title: ['title'],
    projectId: ['projectId'],
    agentId: ['agentId'],
    model: ['model'],
    systemPrompt: [],
    metadata: [],
    tools: [],
    version: ['version'],
    totalTokens: ['totalTokens'],
    preview: ['preview'],
    lastMessageAt: ['lastMessageAt'],
    archivedAt: ['archivedAt'],
    deletedAt: ['deletedAt'],
  },
};

/**
 * The columns the fields need, in a stable order; null (every column) if one of them is not listed.
 * Worked out once per set of fields (fieldsAt gives a field of a list the same set for every item).
 */
export function columnsFor<Row>(spec: ColumnsOfFields<Row>, fields: ReadonlySet<string>): readonly (keyof Row)[] | null {
  let bySpec = known.get(fields);
  if (!bySpec) known.set(fields, (bySpec = new Map()));
  if (!bySpec.has(spec)) bySpec.set(spec, neededColumns(spec, fields));
  return bySpec.get(spec) as (keyof Row)[] | null;
}

const known = new WeakMap<ReadonlySet<string>, Map<ColumnsOfFields<never>, readonly PropertyKey[] | null>>();

function neededColumns<Row>({ keys, fields: byField }: ColumnsOfFields<Row>, fields: Iterable<string>): (keyof Row)[] | null {
  const columns = new Set<keyof Row>(keys);
  for (const field of fields) {
    if (!Object.hasOwn(byField, field)) return null;
    for (const column of byField[field]) columns.add(column);
  }
  return [...columns].sort();
}

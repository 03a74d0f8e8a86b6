/* eslint-disable */
import * as types from './graphql';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  fragment ChatConversation on Conversation {\n    ...ConversationItem\n    messages(last: 50) {\n      pageInfo { hasPreviousPage startCursor }\n      edges { cursor node { ...MessageFields } }\n    }\n  }\n": typeof types.ChatConversationFragmentDoc,
    "\n  fragment ConversationItem on Conversation {\n    id\n    title\n    preview\n    status\n    version\n    model\n    messageCount\n    createdAt\n    lastMessageAt\n    activeGeneration { id }\n    currentMessage { id }\n  }\n": typeof types.ConversationItemFragmentDoc,
    "\n  fragment MessageFields on Message {\n    id\n    role\n    content\n    status\n    error\n    model\n    position\n    reasoning\n    toolCalls\n    toolCallId\n    isError\n    finishReason\n    createdAt\n    parent { id }\n    siblingIndex\n    siblingCount\n    previousSibling { id }\n    nextSibling { id }\n  }\n": typeof types.MessageFieldsFragmentDoc,
    "\n  query Viewer { viewer { userId } models { id name provider isDefault } }\n": typeof types.ViewerDocument,
    "\n  query Sidebar($first: Int!, $after: String, $filter: ConversationFilter) {\n    conversations(first: $first, after: $after, filter: $filter, orderBy: LAST_ACTIVITY_DESC) {\n      pageInfo { hasNextPage endCursor }\n      edges { cursor node { ...ConversationItem } }\n    }\n  }\n": typeof types.SidebarDocument,
    "\n  query Chat($id: ID!) { conversation(id: $id) { ...ChatConversation } }\n": typeof types.ChatDocument,
    "\n  query OlderMessages($id: ID!, $before: String) {\n    conversation(id: $id) {\n      id\n      messages(last: 50, before: $before) {\n        pageInfo { hasPreviousPage startCursor }\n        edges { cursor node { ...MessageFields } }\n      }\n    }\n  }\n": typeof types.OlderMessagesDocument,
    "\n  subscription ConversationsChanged {\n    conversationsChanged { type conversationId conversation { ...ConversationItem } message { ...MessageFields } }\n  }\n": typeof types.ConversationsChangedDocument,
    "\n  subscription MessageStream($messageId: ID!, $after: Int) {\n    messageStream(messageId: $messageId, afterSequenceNumber: $after) {\n      __typename\n      messageId\n      sequenceNumber\n      ... on MessageStarted { message { ...MessageFields } }\n      ... on MessageDelta { delta }\n      ... on MessageReasoningDelta { delta }\n      ... on MessageToolCallDelta { toolCallId name argumentsDelta }\n      ... on MessageCompleted { message { ...MessageFields } }\n      ... on MessageFailed { code error message { ...MessageFields } }\n    }\n  }\n": typeof types.MessageStreamDocument,
    "\n  mutation CreateConversation($input: CreateConversationInput!) {\n    createConversation(input: $input) { conversation { ...ConversationItem } }\n  }\n": typeof types.CreateConversationDocument,
    "\n  mutation SendMessage($input: SendMessageInput!) {\n    sendMessage(input: $input) {\n      userMessage { ...MessageFields }\n      assistantMessage { ...MessageFields }\n      conversation { ...ConversationItem }\n    }\n  }\n": typeof types.SendMessageDocument,
    "\n  mutation CancelGeneration($messageId: ID!) {\n    cancelGeneration(input: { messageId: $messageId }) { message { ...MessageFields } }\n  }\n": typeof types.CancelGenerationDocument,
    "\n  mutation EditMessage($messageId: ID!, $content: String!) {\n    editMessage(input: { messageId: $messageId, content: $content }) { conversation { ...ChatConversation } }\n  }\n": typeof types.EditMessageDocument,
    "\n  mutation RegenerateMessage($messageId: ID!, $model: String) {\n    regenerateMessage(input: { messageId: $messageId, model: $model }) { conversation { ...ChatConversation } }\n  }\n": typeof types.RegenerateMessageDocument,
    "\n  mutation SwitchBranch($messageId: ID!) {\n    switchBranch(input: { messageId: $messageId }) { conversation { ...ChatConversation } }\n  }\n": typeof types.SwitchBranchDocument,
    "\n  mutation SubmitToolResults($messageId: ID!, $results: [ToolResultInput!]!) {\n    submitToolResults(input: { messageId: $messageId, results: $results }) { conversation { ...ChatConversation } }\n  }\n": typeof types.SubmitToolResultsDocument,
    "\n  mutation UpdateConversation($input: UpdateConversationInput!) {\n    updateConversation(input: $input) { conversation { ...ConversationItem } }\n  }\n": typeof types.UpdateConversationDocument,
    "\n  mutation ArchiveConversation($id: ID!) { archiveConversation(input: { id: $id }) { conversation { ...ConversationItem } } }\n": typeof types.ArchiveConversationDocument,
    "\n  mutation DeleteConversation($id: ID!) { deleteConversation(input: { id: $id }) { conversation { ...ConversationItem } } }\n": typeof types.DeleteConversationDocument,
    "\n  mutation RestoreConversation($id: ID!) { restoreConversation(input: { id: $id }) { conversation { ...ConversationItem } } }\n": typeof types.RestoreConversationDocument,
};
const documents: Documents = {
    "\n  fragment ChatConversation on Conversation {\n    ...ConversationItem\n    messages(last: 50) {\n      pageInfo { hasPreviousPage startCursor }\n      edges { cursor node { ...MessageFields } }\n    }\n  }\n": types.ChatConversationFragmentDoc,
    "\n  fragment ConversationItem on Conversation {\n    id\n    title\n    preview\n    status\n    version\n    model\n    messageCount\n    createdAt\n    lastMessageAt\n    activeGeneration { id }\n    currentMessage { id }\n  }\n": types.ConversationItemFragmentDoc,
    "\n  fragment MessageFields on Message {\n    id\n    role\n    content\n    status\n    error\n    model\n    position\n    reasoning\n    toolCalls\n    toolCallId\n    isError\n    finishReason\n    createdAt\n    parent { id }\n    siblingIndex\n    siblingCount\n    previousSibling { id }\n    nextSibling { id }\n  }\n": types.MessageFieldsFragmentDoc,
    "\n  query Viewer { viewer { userId } models { id name provider isDefault } }\n": types.ViewerDocument,
    "\n  query Sidebar($first: Int!, $after: String, $filter: ConversationFilter) {\n    conversations(first: $first, after: $after, filter: $filter, orderBy: LAST_ACTIVITY_DESC) {\n      pageInfo { hasNextPage endCursor }\n      edges { cursor node { ...ConversationItem } }\n    }\n  }\n": types.SidebarDocument,
    "\n  query Chat($id: ID!) { conversation(id: $id) { ...ChatConversation } }\n": types.ChatDocument,
    "\n  query OlderMessages($id: ID!, $before: String) {\n    conversation(id: $id) {\n      id\n      messages(last: 50, before: $before) {\n        pageInfo { hasPreviousPage startCursor }\n        edges { cursor node { ...MessageFields } }\n      }\n    }\n  }\n": types.OlderMessagesDocument,
    "\n  subscription ConversationsChanged {\n    conversationsChanged { type conversationId conversation { ...ConversationItem } message { ...MessageFields } }\n  }\n": types.ConversationsChangedDocument,
    "\n  subscription MessageStream($messageId: ID!, $after: Int) {\n    messageStream(messageId: $messageId, afterSequenceNumber: $after) {\n      __typename\n      messageId\n      sequenceNumber\n      ... on MessageStarted { message { ...MessageFields } }\n      ... on MessageDelta { delta }\n      ... on MessageReasoningDelta { delta }\n      ... on MessageToolCallDelta { toolCallId name argumentsDelta }\n      ... on MessageCompleted { message { ...MessageFields } }\n      ... on MessageFailed { code error message { ...MessageFields } }\n    }\n  }\n": types.MessageStreamDocument,
    "\n  mutation CreateConversation($input: CreateConversationInput!) {\n    createConversation(input: $input) { conversation { ...ConversationItem } }\n  }\n": types.CreateConversationDocument,
    "\n  mutation SendMessage($input: SendMessageInput!) {\n    sendMessage(input: $input) {\n      userMessage { ...MessageFields }\n      assistantMessage { ...MessageFields }\n      conversation { ...ConversationItem }\n    }\n  }\n": types.SendMessageDocument,
    "\n  mutation CancelGeneration($messageId: ID!) {\n    cancelGeneration(input: { messageId: $messageId }) { message { ...MessageFields } }\n  }\n": types.CancelGenerationDocument,
    "\n  mutation EditMessage($messageId: ID!, $content: String!) {\n    editMessage(input: { messageId: $messageId, content: $content }) { conversation { ...ChatConversation } }\n  }\n": types.EditMessageDocument,
    "\n  mutation RegenerateMessage($messageId: ID!, $model: String) {\n    regenerateMessage(input: { messageId: $messageId, model: $model }) { conversation { ...ChatConversation } }\n  }\n": types.RegenerateMessageDocument,
    "\n  mutation SwitchBranch($messageId: ID!) {\n    switchBranch(input: { messageId: $messageId }) { conversation { ...ChatConversation } }\n  }\n": types.SwitchBranchDocument,
    "\n  mutation SubmitToolResults($messageId: ID!, $results: [ToolResultInput!]!) {\n    submitToolResults(input: { messageId: $messageId, results: $results }) { conversation { ...ChatConversation } }\n  }\n": types.SubmitToolResultsDocument,
    "\n  mutation UpdateConversation($input: UpdateConversationInput!) {\n    updateConversation(input: $input) { conversation { ...ConversationItem } }\n  }\n": types.UpdateConversationDocument,
    "\n  mutation ArchiveConversation($id: ID!) { archiveConversation(input: { id: $id }) { conversation { ...ConversationItem } } }\n": types.ArchiveConversationDocument,
    "\n  mutation DeleteConversation($id: ID!) { deleteConversation(input: { id: $id }) { conversation { ...ConversationItem } } }\n": types.DeleteConversationDocument,
    "\n  mutation RestoreConversation($id: ID!) { restoreConversation(input: { id: $id }) { conversation { ...ConversationItem } } }\n": types.RestoreConversationDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment ChatConversation on Conversation {\n    ...ConversationItem\n    messages(last: 50) {\n      pageInfo { hasPreviousPage startCursor }\n      edges { cursor node { ...MessageFields } }\n    }\n  }\n"): (typeof documents)["\n  fragment ChatConversation on Conversation {\n    ...ConversationItem\n    messages(last: 50) {\n      pageInfo { hasPreviousPage startCursor }\n      edges { cursor node { ...MessageFields } }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment ConversationItem on Conversation {\n    id\n    title\n    preview\n    status\n    version\n    model\n    messageCount\n    createdAt\n    lastMessageAt\n    activeGeneration { id }\n    currentMessage { id }\n  }\n"): (typeof documents)["\n  fragment ConversationItem on Conversation {\n    id\n    title\n    preview\n    status\n    version\n    model\n    messageCount\n    createdAt\n    lastMessageAt\n    activeGeneration { id }\n    currentMessage { id }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment MessageFields on Message {\n    id\n    role\n    content\n    status\n    error\n    model\n    position\n    reasoning\n    toolCalls\n    toolCallId\n    isError\n    finishReason\n    createdAt\n    parent { id }\n    siblingIndex\n    siblingCount\n    previousSibling { id }\n    nextSibling { id }\n  }\n"): (typeof documents)["\n  fragment MessageFields on Message {\n    id\n    role\n    content\n    status\n    error\n    model\n    position\n    reasoning\n    toolCalls\n    toolCallId\n    isError\n    finishReason\n    createdAt\n    parent { id }\n    siblingIndex\n    siblingCount\n    previousSibling { id }\n    nextSibling { id }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Viewer { viewer { userId } models { id name provider isDefault } }\n"): (typeof documents)["\n  query Viewer { viewer { userId } models { id name provider isDefault } }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Sidebar($first: Int!, $after: String, $filter: ConversationFilter) {\n    conversations(first: $first, after: $after, filter: $filter, orderBy: LAST_ACTIVITY_DESC) {\n      pageInfo { hasNextPage endCursor }\n      edges { cursor node { ...ConversationItem } }\n    }\n  }\n"): (typeof documents)["\n  query Sidebar($first: Int!, $after: String, $filter: ConversationFilter) {\n    conversations(first: $first, after: $after, filter: $filter, orderBy: LAST_ACTIVITY_DESC) {\n      pageInfo { hasNextPage endCursor }\n      edges { cursor node { ...ConversationItem } }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Chat($id: ID!) { conversation(id: $id) { ...ChatConversation } }\n"): (typeof documents)["\n  query Chat($id: ID!) { conversation(id: $id) { ...ChatConversation } }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query OlderMessages($id: ID!, $before: String) {\n    conversation(id: $id) {\n      id\n      messages(last: 50, before: $before) {\n        pageInfo { hasPreviousPage startCursor }\n        edges { cursor node { ...MessageFields } }\n      }\n    }\n  }\n"): (typeof documents)["\n  query OlderMessages($id: ID!, $before: String) {\n    conversation(id: $id) {\n      id\n      messages(last: 50, before: $before) {\n        pageInfo { hasPreviousPage startCursor }\n        edges { cursor node { ...MessageFields } }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription ConversationsChanged {\n    conversationsChanged { type conversationId conversation { ...ConversationItem } message { ...MessageFields } }\n  }\n"): (typeof documents)["\n  subscription ConversationsChanged {\n    conversationsChanged { type conversationId conversation { ...ConversationItem } message { ...MessageFields } }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription MessageStream($messageId: ID!, $after: Int) {\n    messageStream(messageId: $messageId, afterSequenceNumber: $after) {\n      __typename\n      messageId\n      sequenceNumber\n      ... on MessageStarted { message { ...MessageFields } }\n      ... on MessageDelta { delta }\n      ... on MessageReasoningDelta { delta }\n      ... on MessageToolCallDelta { toolCallId name argumentsDelta }\n      ... on MessageCompleted { message { ...MessageFields } }\n      ... on MessageFailed { code error message { ...MessageFields } }\n    }\n  }\n"): (typeof documents)["\n  subscription MessageStream($messageId: ID!, $after: Int) {\n    messageStream(messageId: $messageId, afterSequenceNumber: $after) {\n      __typename\n      messageId\n      sequenceNumber\n      ... on MessageStarted { message { ...MessageFields } }\n      ... on MessageDelta { delta }\n      ... on MessageReasoningDelta { delta }\n      ... on MessageToolCallDelta { toolCallId name argumentsDelta }\n      ... on MessageCompleted { message { ...MessageFields } }\n      ... on MessageFailed { code error message { ...MessageFields } }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreateConversation($input: CreateConversationInput!) {\n    createConversation(input: $input) { conversation { ...ConversationItem } }\n  }\n"): (typeof documents)["\n  mutation CreateConversation($input: CreateConversationInput!) {\n    createConversation(input: $input) { conversation { ...ConversationItem } }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation SendMessage($input: SendMessageInput!) {\n    sendMessage(input: $input) {\n      userMessage { ...MessageFields }\n      assistantMessage { ...MessageFields }\n      conversation { ...ConversationItem }\n    }\n  }\n"): (typeof documents)["\n  mutation SendMessage($input: SendMessageInput!) {\n    sendMessage(input: $input) {\n      userMessage { ...MessageFields }\n      assistantMessage { ...MessageFields }\n      conversation { ...ConversationItem }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CancelGeneration($messageId: ID!) {\n    cancelGeneration(input: { messageId: $messageId }) { message { ...MessageFields } }\n  }\n"): (typeof documents)["\n  mutation CancelGeneration($messageId: ID!) {\n    cancelGeneration(input: { messageId: $messageId }) { message { ...MessageFields } }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation EditMessage($messageId: ID!, $content: String!) {\n    editMessage(input: { messageId: $messageId, content: $content }) { conversation { ...ChatConversation } }\n  }\n"): (typeof documents)["\n  mutation EditMessage($messageId: ID!, $content: String!) {\n    editMessage(input: { messageId: $messageId, content: $content }) { conversation { ...ChatConversation } }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RegenerateMessage($messageId: ID!, $model: String) {\n    regenerateMessage(input: { messageId: $messageId, model: $model }) { conversation { ...ChatConversation } }\n  }\n"): (typeof documents)["\n  mutation RegenerateMessage($messageId: ID!, $model: String) {\n    regenerateMessage(input: { messageId: $messageId, model: $model }) { conversation { ...ChatConversation } }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation SwitchBranch($messageId: ID!) {\n    switchBranch(input: { messageId: $messageId }) { conversation { ...ChatConversation } }\n  }\n"): (typeof documents)["\n  mutation SwitchBranch($messageId: ID!) {\n    switchBranch(input: { messageId: $messageId }) { conversation { ...ChatConversation } }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation SubmitToolResults($messageId: ID!, $results: [ToolResultInput!]!) {\n    submitToolResults(input: { messageId: $messageId, results: $results }) { conversation { ...ChatConversation } }\n  }\n"): (typeof documents)["\n  mutation SubmitToolResults($messageId: ID!, $results: [ToolResultInput!]!) {\n    submitToolResults(input: { messageId: $messageId, results: $results }) { conversation { ...ChatConversation } }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation UpdateConversation($input: UpdateConversationInput!) {\n    updateConversation(input: $input) { conversation { ...ConversationItem } }\n  }\n"): (typeof documents)["\n  mutation UpdateConversation($input: UpdateConversationInput!) {\n    updateConversation(input: $input) { conversation { ...ConversationItem } }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation ArchiveConversation($id: ID!) { archiveConversation(input: { id: $id }) { conversation { ...ConversationItem } } }\n"): (typeof documents)["\n  mutation ArchiveConversation($id: ID!) { archiveConversation(input: { id: $id }) { conversation { ...ConversationItem } } }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation DeleteConversation($id: ID!) { deleteConversation(input: { id: $id }) { conversation { ...ConversationItem } } }\n"): (typeof documents)["\n  mutation DeleteConversation($id: ID!) { deleteConversation(input: { id: $id }) { conversation { ...ConversationItem } } }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RestoreConversation($id: ID!) { restoreConversation(input: { id: $id }) { conversation { ...ConversationItem } } }\n"): (typeof documents)["\n  mutation RestoreConversation($id: ID!) { restoreConversation(input: { id: $id }) { conversation { ...ConversationItem } } }\n"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;
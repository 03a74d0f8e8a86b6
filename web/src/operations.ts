// The app's operations, typed by GraphQL Codegen's client preset (src/gql/). The fragments they spread
// sit beside the components that show them (ConversationItem, MessageFields, ChatConversation).
import { graphql } from './gql';

export const VIEWER = graphql(`
  query Viewer { viewer { userId } models { id name provider isDefault } }
`);

export const SIDEBAR = graphql(`
  query Sidebar($first: Int!, $after: String, $filter: ConversationFilter) {
    conversations(first: $first, after: $after, filter: $filter, orderBy: LAST_ACTIVITY_DESC) {
      pageInfo { hasNextPage endCursor }
      edges { cursor node { ...ConversationItem } }
    }
  }
`);

export const CHAT = graphql(`
  query Chat($id: ID!) { conversation(id: $id) { ...ChatConversation } }
`);

export const OLDER_MESSAGES = graphql(`
  query OlderMessages($id: ID!, $before: String) {
    conversation(id: $id) {
      id
      messages(last: 50, before: $before) {
        pageInfo { hasPreviousPage startCursor }
        edges { cursor node { ...MessageFields } }
      }
    }
  }
`);

export const CONVERSATIONS_CHANGED = graphql(`
  subscription ConversationsChanged {
    conversationsChanged { type conversationId conversation { ...ConversationItem } message { ...MessageFields } }
  }
`);

export const MESSAGE_STREAM = graphql(`
  subscription MessageStream($messageId: ID!, $after: Int) {
    messageStream(messageId: $messageId, afterSequenceNumber: $after) {
      __typename
      messageId
      sequenceNumber
      ... on MessageStarted { message { ...MessageFields } }
      ... on MessageDelta { delta }
      ... on MessageReasoningDelta { delta }
      ... on MessageToolCallDelta { toolCallId name argumentsDelta }
      ... on MessageCompleted { message { ...MessageFields } }
      ... on MessageFailed { code error message { ...MessageFields } }
    }
  }
`);

export const CREATE_CONVERSATION = graphql(`
  mutation CreateConversation($input: CreateConversationInput!) {
    createConversation(input: $input) { conversation { ...ConversationItem } }
  }
`);

export const SEND_MESSAGE = graphql(`
  mutation SendMessage($input: SendMessageInput!) {
    sendMessage(input: $input) {
      userMessage { ...MessageFields }
      assistantMessage { ...MessageFields }
      conversation { ...ConversationItem }
    }
  }
`);

export const CANCEL_GENERATION = graphql(`
  mutation CancelGeneration($messageId: ID!) {
    cancelGeneration(input: { messageId: $messageId }) { message { ...MessageFields } }
  }
`);

export const EDIT_MESSAGE = graphql(`
  mutation EditMessage($messageId: ID!, $content: String!) {
    editMessage(input: { messageId: $messageId, content: $content }) { conversation { ...ChatConversation } }
  }
`);

export const REGENERATE_MESSAGE = graphql(`
  mutation RegenerateMessage($messageId: ID!, $model: String) {
    regenerateMessage(input: { messageId: $messageId, model: $model }) { conversation { ...ChatConversation } }
  }
`);

export const SWITCH_BRANCH = graphql(`
  mutation SwitchBranch($messageId: ID!) {
    switchBranch(input: { messageId: $messageId }) { conversation { ...ChatConversation } }
  }
`);

export const SUBMIT_TOOL_RESULTS = graphql(`
  mutation SubmitToolResults($messageId: ID!, $results: [ToolResultInput!]!) {
    submitToolResults(input: { messageId: $messageId, results: $results }) { conversation { ...ChatConversation } }
  }
`);

export const UPDATE_CONVERSATION = graphql(`
  mutation UpdateConversation($input: UpdateConversationInput!) {
    updateConversation(input: $input) { conversation { ...ConversationItem } }
  }
`);

export const ARCHIVE_CONVERSATION = graphql(`
  mutation ArchiveConversation($id: ID!) { archiveConversation(input: { id: $id }) { conversation { ...ConversationItem } } }
`);

export const DELETE_CONVERSATION = graphql(`
  mutation DeleteConversation($id: ID!) { deleteConversation(input: { id: $id }) { conversation { ...ConversationItem } } }
`);

export const RESTORE_CONVERSATION = graphql(`
  mutation RestoreConversation($id: ID!) { restoreConversation(input: { id: $id }) { conversation { ...ConversationItem } } }
`);

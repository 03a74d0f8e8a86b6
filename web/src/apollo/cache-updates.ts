// Every edit of the Apollo cache, in one place: from payloads and from conversationsChanged events. Lists
// are kept right without refetching:
// - the sidebar's lists (one per search) hold ACTIVE conversations, newest activity first;
// - a chat's list holds the branch ending at the conversation's current message, oldest first.
import type { ApolloCache, Reference } from '@apollo/client';
import type { ConversationItemFragment, MessageFieldsFragment, SendMessageMutation } from '../gql/graphql';

type Edge = { __typename?: string; cursor?: string | null; node: Reference };
type Connection = { edges: Edge[]; pageInfo?: unknown };
type Event = {
  type: string;
  conversationId: string;
  conversation?: ConversationItemFragment | null;
  message?: MessageFieldsFragment | null;
};

/** Applies one conversationsChanged event (the fields of its objects are already in the cache). */
export function applyConversationEvent(cache: ApolloCache, event: Event): void {
  const { conversation, message } = event;
  if (!conversation) {
    // Purged: gone for good.
    cache.evict({ id: cache.identify({ __typename: 'Conversation', id: event.conversationId }) });
    cache.gc();
    return;
  }
  placeInSidebar(cache, conversation);
  if (event.type === 'MESSAGE_ADDED' && message) {
    const current = conversation.currentMessage?.id === message.id;
    // An edit elsewhere whose reply is already current, say: the list cannot follow, and reads its branch again.
    if (!showMessage(cache, conversation.id, message, { current })) readBranchAgain(cache, conversation.id);
  }
  // A switch elsewhere changes the branch shown with no message added.
  if (event.type === 'CONVERSATION_UPDATED') followCurrentBranch(cache, conversation);
}

/** After sendMessage: its two messages at the end of the branch shown, its conversation first in the sidebar. */
export function afterSend(cache: ApolloCache, { data }: { data?: SendMessageMutation | null }): void {
  if (!data) return;
  const { conversation, userMessage, assistantMessage } = data.sendMessage;
  const shown = showMessage(cache, conversation.id, userMessage, { current: true }) && showMessage(cache, conversation.id, assistantMessage, { current: true });
  if (!shown) readBranchAgain(cache, conversation.id); // sent under a message this tab did not show (switched elsewhere)
  placeInSidebar(cache, conversation);
}

/** When the chat's list does not end at the conversation's current message, the chat reads its branch again. */
function followCurrentBranch(cache: ApolloCache, conversation: Pick<ConversationItemFragment, 'id' | 'currentMessage'>): void {
  const id = cache.identify({ __typename: 'Conversation', id: conversation.id });
  if (!id) return;
  let stale = false;
  cache.modify({
    id,
    fields: {
      messages(value, { readField }) {
        const edges = (value as Connection | undefined)?.edges;
        if (edges) stale ||= (edges.length ? readField<string>('id', edges[edges.length - 1].node) : null) !== (conversation.currentMessage?.id ?? null);
        return value;
      },
    },
  });
  if (stale) readBranchAgain(cache, conversation.id);
}

/** Drops the chat's list: the query showing it reads it again (the one case where this app refetches). */
function readBranchAgain(cache: ApolloCache, conversationId: string): void {
  cache.evict({ id: cache.identify({ __typename: 'Conversation', id: conversationId }), fieldName: 'messages' });
}

/**
 * After a mutation whose payload holds a conversation (create, archive, delete, restore): the sidebar
 * lists take it in or out as its status says.
 */
export function afterConversationChange(cache: ApolloCache, { data }: { data?: Record<string, unknown> | null }): void {
  const payload = data && (Object.values(data)[0] as { conversation?: ConversationItemFragment } | undefined);
  if (payload?.conversation) placeInSidebar(cache, payload.conversation);
}

/**
 * Puts a conversation where it belongs in every sidebar list: out of them unless ACTIVE; into the
 * unfiltered one if missing (a new conversation, a restored one); every list ordered by last activity.
 */
function placeInSidebar(cache: ApolloCache, conversation: Pick<ConversationItemFragment, 'id' | 'status'>): void {
  const ref = cache.identify({ __typename: 'Conversation', id: conversation.id });
  if (!ref) return;
  cache.modify({
    id: 'ROOT_QUERY',
    fields: {
      conversations(value, { storeFieldName, readField, toReference }) {
        const existing = value as Connection | undefined;
        if (!existing) return value;
        const edges = existing.edges.filter((edge) => readField('id', edge.node) !== conversation.id);
        const searching = storeFieldName.includes('"search"');
        if (conversation.status === 'ACTIVE' && (!searching || edges.length < existing.edges.length)) {
          edges.push({ __typename: 'ConversationEdge', cursor: null, node: toReference(ref) as Reference });
        }
        const activity = (edge: Edge) => String(readField('lastMessageAt', edge.node) ?? readField('createdAt', edge.node) ?? '');
        edges.sort((a, b) => (activity(a) < activity(b) ? 1 : activity(a) > activity(b) ? -1 : 0));
        return { ...existing, edges } as typeof value;
      },
    },
  });
}

/**
 * Shows a new message at the end of a chat's branch when it continues it (its parent is the last
 * message shown), or, when it is the conversation's current message (`current`: an edit or a
 * regeneration), in place of what followed its parent. False when the list cannot tell: it is not
 * there already, and its parent is neither the last message nor, for a current one, in the list.
 */
function showMessage(
  cache: ApolloCache,
  conversationId: string,
  message: Pick<MessageFieldsFragment, 'id' | 'parent'>,
  { current }: { current: boolean },
): boolean {
  const ref = cache.identify({ __typename: 'Message', id: message.id });
  const conversation = cache.identify({ __typename: 'Conversation', id: conversationId });
  if (!ref || !conversation) return false;
  let placed = true;
  cache.modify({
    id: conversation,
    fields: {
      messages(value, { readField, toReference }) {
        const existing = value as Connection | undefined;
        if (!existing) return value;
        const ids = existing.edges.map((edge) => readField<string>('id', edge.node));
        if (ids.includes(message.id)) return value;
        const parentAt = message.parent ? ids.indexOf(message.parent.id) : -1;
        const continues = parentAt === ids.length - 1;
        if ((message.parent && parentAt < 0) || (!continues && !current)) {
          placed = false;
          return value;
        }
        const kept = existing.edges.slice(0, parentAt + 1);
        return { ...existing, edges: [...kept, { __typename: 'MessageEdge', cursor: null, node: toReference(ref) as Reference }] } as typeof value;
      },
    },
  });
  return placed;
}

// The viewer's conversationsChanged, subscribed once for the whole page (sidebar and chat alike), each
// event applied to the cache as it comes.
import { useSubscription } from '@apollo/client/react';
import { CONVERSATIONS_CHANGED } from '../operations';
import { applyConversationEvent } from './cache-updates';

export function useConversationEvents(): void {
  useSubscription(CONVERSATIONS_CHANGED, {
    onData: ({ client, data }) => data.data && applyConversationEvent(client.cache, data.data.conversationsChanged),
  });
}

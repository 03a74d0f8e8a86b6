// The messages of the branch shown, oldest first: earlier ones on demand, the end kept in view as it
// grows, and the tool results a reply waits for.
import { useLayoutEffect, useRef } from 'react';
import { useApolloClient } from '@apollo/client/react';
import type { ChatConversationFragment } from '../gql/graphql';
import { OLDER_MESSAGES } from '../operations';
import { MessageView } from './MessageView';
import { ToolResults } from './ToolResults';

type Props = { conversation: ChatConversationFragment; busy: boolean; waitingForTools: boolean };

export function MessageList({ conversation, busy, waitingForTools }: Props) {
  const client = useApolloClient();
  const messages = conversation.messages.edges.map((edge) => edge.node);
  const last = messages.at(-1);
  const bottom = useAutoScroll([messages.length, busy]);
  const { hasPreviousPage, startCursor } = conversation.messages.pageInfo;
  return (
    <section className="messages" aria-label="Messages" aria-live="polite">
      {hasPreviousPage && (
        <button type="button" className="older" onClick={() => void client.query({ query: OLDER_MESSAGES, variables: { id: conversation.id, before: startCursor } })}>
          Earlier messages
        </button>
      )}
      {messages.map((message) => (
        <MessageView key={message.id} message={message} busy={busy} />
      ))}
      {waitingForTools && last && <ToolResults key={last.id} messageId={last.id} calls={(last.toolCalls as never) ?? []} />}
      <div ref={bottom} />
    </section>
  );
}

/** Keeps the end of the list in view as it grows, unless the reader has scrolled up. */
function useAutoScroll(deps: unknown[]) {
  const bottom = useRef<HTMLDivElement>(null);
  useLayoutEffect(() => {
    const end = bottom.current;
    const list = end?.parentElement;
    if (!end || !list) return;
    const follow = () => list.scrollHeight - list.scrollTop - list.clientHeight < 120 && end.scrollIntoView({ block: 'end' });
    follow();
    const observer = new MutationObserver(follow);
    observer.observe(list, { childList: true, subtree: true, characterData: true });
    return () => observer.disconnect();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  return bottom;
}

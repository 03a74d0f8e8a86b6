// The sidebar: a new chat, a search, and the viewer's conversations by last activity, grouped by day,
// loaded page by page as it scrolls. Events from other tabs and devices keep it current (apollo/cache-updates.ts).
import { useEffect, useRef, useState } from 'react';
import { useQuery } from '@apollo/client/react';
import { SIDEBAR } from '../operations';
import type { ConversationItemFragment } from '../gql/graphql';
import { ConversationRow } from './ConversationRow';

const PAGE = 30;
const GROUPS = ['Today', 'Yesterday', 'Previous 7 days', 'Older'] as const;

type Props = { openId: string | null; onOpen: (id: string | null) => void; onDeleted: (conversation: ConversationItemFragment) => void };

export function Sidebar({ openId, onOpen, onDeleted }: Props) {
  const [search, setSearch] = useState('');
  const query = useDebounced(search.trim(), 250);
  const { data, error, fetchMore, loading } = useQuery(SIDEBAR, { variables: { first: PAGE, filter: query ? { search: query } : null } });
  const connection = data?.conversations;
  const sentinel = useRef<HTMLLIElement>(null);

  // Infinite scroll: the next page when the end of the list comes into view.
  useEffect(() => {
    const end = sentinel.current;
    if (!end || !connection?.pageInfo.hasNextPage) return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting) && !loading) void fetchMore({ variables: { after: connection.pageInfo.endCursor } });
    });
    observer.observe(end);
    return () => observer.disconnect();
  }, [connection?.pageInfo.endCursor, connection?.pageInfo.hasNextPage, fetchMore, loading]);

  const groups = groupByActivity(connection?.edges.map((edge) => edge.node) ?? []);
  return (
    <nav aria-label="Conversations" className="sidebar">
      <button type="button" className="new-chat" onClick={() => onOpen(null)}>
        New chat
      </button>
      <input type="search" aria-label="Search conversations" placeholder="Search conversations" value={search} onChange={(e) => setSearch(e.target.value)} />
      {error && <p role="alert">The conversations could not be loaded.</p>}
      {connection && connection.edges.length === 0 && <p className="empty">{query ? 'No conversation matches.' : 'No conversations yet.'}</p>}
      {GROUPS.map((group) =>
        groups[group].length ? (
          <section key={group} aria-label={group}>
            <h3>{group}</h3>
            <ul>
              {groups[group].map((conversation) => (
                <ConversationRow key={conversation.id} conversation={conversation} open={conversation.id === openId} onOpen={onOpen} onDeleted={onDeleted} />
              ))}
            </ul>
          </section>
        ) : null,
      )}
      <ul aria-hidden="true">
        <li ref={sentinel} className="sentinel" />
      </ul>
    </nav>
  );
}

/** Groups by the day of the last message (or of creation while empty), in the browser's time zone. */
function groupByActivity(conversations: ConversationItemFragment[]): Record<(typeof GROUPS)[number], ConversationItemFragment[]> {
  const groups = { Today: [], Yesterday: [], 'Previous 7 days': [], Older: [] } as Record<(typeof GROUPS)[number], ConversationItemFragment[]>;
  const today = new Date();
  today.setHours(0, 0, 0, 0);
  const day = 24 * 60 * 60 * 1000;
  for (const conversation of conversations) {
    const at = new Date(conversation.lastMessageAt ?? conversation.createdAt).getTime();
    const group = at >= today.getTime() ? 'Today' : at >= today.getTime() - day ? 'Yesterday' : at >= today.getTime() - 7 * day ? 'Previous 7 days' : 'Older';
    groups[group].push(conversation);
  }
  return groups;
}

function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return settled;
}

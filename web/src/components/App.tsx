// The page: the sidebar beside the open chat. It listens to conversationsChanged once, for both.
import { useCallback, useState } from 'react';
import { useQuery } from '@apollo/client/react';
import { VIEWER } from '../operations';
import { useConversationEvents } from '../apollo/conversation-events';
import { errorCode } from '../errors';
import { readToken } from '../auth';
import { useOpenConversation } from '../route';
import { Chat } from './Chat';
import { Sidebar } from './Sidebar';
import { TokenForm } from './TokenForm';
import { UndoToast } from './UndoToast';

export function App() {
  const { data, error } = useQuery(VIEWER);
  if (error && errorCode(error) === 'UNAUTHENTICATED') return <TokenForm refused={readToken() !== null} />;
  if (error) return <p role="alert">The server cannot be reached.</p>;
  if (!data) return null;
  return <Layout models={data.models} />;
}

function Layout({ models }: { models: { id: string; name: string; provider: string; isDefault: boolean }[] }) {
  const [openId, open] = useOpenConversation();
  const [sidebarShown, setSidebarShown] = useState(false);
  const [deleted, setDeleted] = useState<string | null>(null);
  useConversationEvents();
  const onOpen = useCallback(
    (id: string | null) => {
      open(id);
      setSidebarShown(false);
    },
    [open],
  );
  const undone = useCallback(() => setDeleted(null), []);
  const onDeleted = useCallback(
    ({ id }: { id: string }) => {
      setDeleted(id);
      if (id === openId) open(null);
    },
    [open, openId],
  );
  return (
    <div className={sidebarShown ? 'layout sidebar-shown' : 'layout'}>
      <button type="button" className="toggle-sidebar" aria-label="Toggle sidebar" aria-expanded={sidebarShown} onClick={() => setSidebarShown(!sidebarShown)}>
        ☰
      </button>
      <Sidebar openId={openId} onOpen={onOpen} onDeleted={onDeleted} />
      <Chat key={openId ?? 'new'} conversationId={openId} models={models} onOpen={onOpen} />
      {deleted && <UndoToast conversationId={deleted} onDone={undone} />}
    </div>
  );
}

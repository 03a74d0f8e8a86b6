// The one piece of routing the app needs: /c/<conversation id> opens a chat, / a new one.
import { useCallback, useSyncExternalStore } from 'react';

const PREFIX = '/c/';

function currentConversation(): string | null {
  const { pathname } = window.location;
  if (!pathname.startsWith(PREFIX)) return null;
  try {
    return decodeURIComponent(pathname.slice(PREFIX.length)) || null;
  } catch {
    return null; // a link with a broken escape (cut short, say) names no conversation: a new chat
  }
}

function onNavigate(listener: () => void): () => void {
  window.addEventListener('popstate', listener);
  return () => window.removeEventListener('popstate', listener);
}

/** The open conversation, and a way to open another (null: a new chat). */
export function useOpenConversation(): [string | null, (id: string | null) => void] {
  const open = useSyncExternalStore(onNavigate, currentConversation);
  const navigate = useCallback((id: string | null) => {
    const path = id ? `${PREFIX}${encodeURIComponent(id)}` : '/';
    if (window.location.pathname !== path) window.history.pushState(null, '', path);
    window.dispatchEvent(new PopStateEvent('popstate'));
  }, []);
  return [open, navigate];
}

// After a delete: "Undo" restores the conversation (for a while; then the offer goes away).
import { useEffect } from 'react';
import { useMutation } from '@apollo/client/react';
import { RESTORE_CONVERSATION } from '../operations';
import { afterConversationChange } from '../apollo/cache-updates';

const OFFER_MS = 10_000;

export function UndoToast({ conversationId, onDone }: { conversationId: string; onDone: () => void }) {
  const [restore] = useMutation(RESTORE_CONVERSATION, {
    variables: { id: conversationId },
    update: afterConversationChange,
  });
  useEffect(() => {
    const timer = setTimeout(onDone, OFFER_MS);
    return () => clearTimeout(timer);
  }, [conversationId, onDone]);
  return (
    <div role="status" className="toast">
      Conversation deleted.
      <button type="button" onClick={() => void restore().finally(onDone)}>
        Undo
      </button>
    </div>
  );
}

// One conversation in the sidebar, with its actions: rename (a dialog), archive, delete (confirmed; the
// app offers to undo it).
import { useState } from 'react';
import { useMutation } from '@apollo/client/react';
import { ARCHIVE_CONVERSATION, DELETE_CONVERSATION, UPDATE_CONVERSATION } from '../operations';
import type { ConversationItemFragment } from '../gql/graphql';
import { afterConversationChange } from '../apollo/cache-updates';
import { describeError } from '../errors';
import { Dialog } from './Dialog';
import { graphql } from '../gql';

/** What a row of the sidebar shows (and what the sidebar sorts and groups by). */
export const CONVERSATION_ITEM = graphql(`
  fragment ConversationItem on Conversation {
    id
    title
    preview
    status
    version
    model
    messageCount
    createdAt
    lastMessageAt
    activeGeneration { id }
    currentMessage { id }
  }
`);

type Props = { conversation: ConversationItemFragment; open: boolean; onOpen: (id: string) => void; onDeleted: (conversation: ConversationItemFragment) => void };

export function ConversationRow({ conversation, open, onOpen, onDeleted }: Props) {
  const [menu, setMenu] = useState(false);
  const [dialog, setDialog] = useState<'rename' | 'delete' | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [archive] = useMutation(ARCHIVE_CONVERSATION, { variables: { id: conversation.id }, update: afterConversationChange });
  const [remove] = useMutation(DELETE_CONVERSATION, { variables: { id: conversation.id }, update: afterConversationChange });
  const title = conversation.title ?? 'New chat';

  const act = async (action: () => Promise<unknown>) => {
    setMenu(false);
    try {
      await action();
      setError(null);
    } catch (e) {
      setError(describeError(e));
    }
  };

  return (
    <li className={open ? 'conversation open' : 'conversation'}>
      <a href={`/c/${encodeURIComponent(conversation.id)}`} aria-current={open ? 'page' : undefined} onClick={(e) => (e.preventDefault(), onOpen(conversation.id))}>
        <span className="title">{title}</span>
        {conversation.preview && <span className="preview">{conversation.preview}</span>}
      </a>
      <button type="button" className="actions" aria-label="Conversation actions" aria-haspopup="menu" aria-expanded={menu} onClick={() => setMenu(!menu)}>
        ⋯
      </button>
      {menu && (
        <ul role="menu" aria-label={`Actions for ${title}`} className="menu" onKeyDown={(e) => e.key === 'Escape' && setMenu(false)}>
          <li role="menuitem" tabIndex={0} onClick={() => (setMenu(false), setDialog('rename'))} onKeyDown={(e) => e.key === 'Enter' && (setMenu(false), setDialog('rename'))}>
            Rename
          </li>
          <li role="menuitem" tabIndex={0} onClick={() => act(archive)} onKeyDown={(e) => e.key === 'Enter' && act(archive)}>
            Archive
          </li>
          <li role="menuitem" tabIndex={0} onClick={() => (setMenu(false), setDialog('delete'))} onKeyDown={(e) => e.key === 'Enter' && (setMenu(false), setDialog('delete'))}>
            Delete
          </li>
        </ul>
      )}
      {error && <p role="alert">{error}</p>}
      {dialog === 'rename' && <RenameDialog conversation={conversation} onClose={() => setDialog(null)} />}
      {dialog === 'delete' && (
        <Dialog title="Delete this conversation?" onClose={() => setDialog(null)}>
          <p>“{title}” will be removed from the list. You can undo this.</p>
          <div className="buttons">
            <button type="button" onClick={() => setDialog(null)}>
              Cancel
            </button>
            <button type="button" className="danger" onClick={() => act(async () => (await remove(), setDialog(null), onDeleted(conversation)))}>
              Delete
            </button>
          </div>
        </Dialog>
      )}
    </li>
  );
}

function RenameDialog({ conversation, onClose }: { conversation: ConversationItemFragment; onClose: () => void }) {
  const [title, setTitle] = useState(conversation.title ?? '');
  const [rename, { loading, error }] = useMutation(UPDATE_CONVERSATION);
  return (
    <Dialog title="Rename conversation" onClose={onClose}>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          await rename({ variables: { input: { id: conversation.id, title: title.trim() } } }).then(onClose, () => {});
        }}
      >
        <label>
          Title
          <input type="text" value={title} maxLength={255} required autoFocus onChange={(e) => setTitle(e.target.value)} />
        </label>
        {error && <p role="alert">{describeError(error)}</p>}
        <div className="buttons">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" disabled={loading}>
            Save
          </button>
        </div>
      </form>
    </Dialog>
  );
}

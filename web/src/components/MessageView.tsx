// One message of the branch shown: its text (Markdown for replies, as it streams), reasoning and tool
// calls folded away, its versions (‹ N / M ›), and what can be done with it (edit, regenerate).
import { useState } from 'react';
import { useMutation } from '@apollo/client/react';
import type { MessageFieldsFragment } from '../gql/graphql';
import { EDIT_MESSAGE, REGENERATE_MESSAGE } from '../operations';
import { describeError } from '../errors';
import { useStreamedReply } from '../stream-context';
import { Markdown } from './Markdown';
import { BranchPicker } from './BranchPicker';
import { graphql } from '../gql';

/** What a message shows: its text as it stands, its versions (siblings), its tool calls and reasoning. */
export const MESSAGE_FIELDS = graphql(`
  fragment MessageFields on Message {
    id
    role
    content
    status
    error
    model
    position
    reasoning
    toolCalls
    toolCallId
    isError
    finishReason
    createdAt
    parent { id }
    siblingIndex
    siblingCount
    previousSibling { id }
    nextSibling { id }
  }
`);

type ToolCall = { id: string; function: { name: string; arguments: string } };

export function MessageView({ message, busy }: { message: MessageFieldsFragment; busy: boolean }) {
  const streaming = message.status === 'STREAMING';
  const streamed = useStreamedReply(message.id, streaming);
  const [error, setError] = useState<string | null>(null);
  const [regenerate] = useMutation(REGENERATE_MESSAGE, { variables: { messageId: message.id } });
  const content = streaming && streamed ? streamed.text : message.content;
  const reasoning = streaming && streamed ? streamed.reasoning : (message.reasoning ?? '');
  const calls: ToolCall[] = streaming && streamed
    ? Object.entries(streamed.calls).map(([id, call]) => ({ id, function: call }))
    : ((message.toolCalls as ToolCall[] | null) ?? []);
  const run = (action: () => Promise<unknown>) => action().then(() => setError(null), (e) => setError(describeError(e)));

  if (message.role === 'TOOL') {
    return (
      <article className="message tool" aria-label="Tool result">
        <details>
          <summary>Tool result{message.isError ? ' (error)' : ''}</summary>
          <pre>{message.content}</pre>
        </details>
      </article>
    );
  }
  if (message.role === 'USER') return <UserMessage message={message} busy={busy} />;
  return (
    <article className="message assistant" aria-label="Assistant message" aria-busy={streaming}>
      {reasoning && (
        <details className="reasoning">
          <summary>Reasoning</summary>
          <p>{reasoning}</p>
        </details>
      )}
      {content ? <Markdown text={content} /> : streaming && !calls.length && <p className="typing">…</p>}
      {calls.map((call) => (
        <details key={call.id} className="tool-call">
          <summary>Tool call: {call.function.name}</summary>
          <pre>{call.function.arguments}</pre>
        </details>
      ))}
      {message.status === 'FAILED' && <p role="alert">The reply failed: {message.error}</p>}
      {message.status === 'CANCELLED' && <p className="note">Stopped.</p>}
      {message.status === 'INTERRUPTED' && <p className="note">Interrupted.</p>}
      {error && <p role="alert">{error}</p>}
      <footer>
        <BranchPicker message={message} />
        {!streaming && (
          <button type="button" disabled={busy} onClick={() => run(regenerate)}>
            Regenerate
          </button>
        )}
      </footer>
    </article>
  );
}

function UserMessage({ message, busy }: { message: MessageFieldsFragment; busy: boolean }) {
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState(message.content);
  const [edit, { loading, error }] = useMutation(EDIT_MESSAGE);
  return (
    <article className="message user" aria-label="Your message">
      {editing ? (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            edit({ variables: { messageId: message.id, content: text } }).then(() => setEditing(false), () => {});
          }}
        >
          <textarea aria-label="Edit message" value={text} required onChange={(e) => setText(e.target.value)} />
          {error && <p role="alert">{describeError(error)}</p>}
          <div className="buttons">
            <button type="button" onClick={() => setEditing(false)}>
              Cancel
            </button>
            <button type="submit" disabled={loading || busy}>
              Save
            </button>
          </div>
        </form>
      ) : (
        <p className="text">{message.content}</p>
      )}
      <footer>
        <BranchPicker message={message} />
        {!editing && (
          <button type="button" onClick={() => (setText(message.content), setEditing(true))}>
            Edit
          </button>
        )}
      </footer>
    </article>
  );
}

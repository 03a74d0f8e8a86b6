// A chat: the branch a conversation shows, the model, and the message box. With no conversation open,
// the first message sent creates one.
import { useEffect, useLayoutEffect, useRef, useState } from 'react';
import { useApolloClient, useMutation, useQuery } from '@apollo/client/react';
import { CANCEL_GENERATION, CHAT, CREATE_CONVERSATION, OLDER_MESSAGES, SEND_MESSAGE, UPDATE_CONVERSATION } from '../operations';
import { placeInSidebar, showSent } from '../cache';
import { describeError } from '../errors';
import { Composer } from './Composer';
import { MessageView } from './MessageView';
import { ModelPicker } from './ModelPicker';
import { ToolResults } from './ToolResults';

type Model = { id: string; name: string; provider: string; isDefault: boolean };
type Props = { conversationId: string | null; models: Model[]; onOpen: (id: string) => void };

export function Chat({ conversationId, models, onOpen }: Props) {
  const client = useApolloClient();
  const { data, error: loadError } = useQuery(CHAT, { variables: { id: conversationId! }, skip: !conversationId });
  const conversation = conversationId ? data?.conversation : null;
  const messages = conversation?.messages.edges.map((edge) => edge.node) ?? [];
  const [newChatModel, setNewChatModel] = useState<string | null>(null);
  const model = conversation?.model ?? newChatModel ?? models.find((m) => m.isDefault)?.id ?? models[0]?.id ?? '';
  const [error, setError] = useState<string | null>(null);
  const [create] = useMutation(CREATE_CONVERSATION);
  const [send] = useMutation(SEND_MESSAGE, { update: (cache, { data: sent }) => sent && showSent(cache, sent) });
  const [cancel] = useMutation(CANCEL_GENERATION);
  const [update] = useMutation(UPDATE_CONVERSATION);
  const streaming = messages.find((m) => m.status === 'STREAMING') ?? null;
  const last = messages.at(-1);
  const waitingForTools = last?.role === 'ASSISTANT' && last.status === 'COMPLETED' && last.finishReason === 'TOOL_CALLS';

  useEffect(() => setError(null), [conversationId]);
  const bottom = useAutoScroll([messages.length, streaming?.id]);

  const onSend = async (text: string): Promise<boolean> => {
    try {
      let id = conversationId;
      if (!id) {
        const created = await create({ variables: { input: { model } } });
        id = created.data!.createConversation.conversation.id;
        placeInSidebar(client.cache, created.data!.createConversation.conversation);
      }
      await send({ variables: { input: { conversationId: id, content: text } } });
      if (id !== conversationId) onOpen(id);
      setError(null);
      return true;
    } catch (e) {
      setError(describeError(e));
      return false;
    }
  };
  const onStop = streaming ? () => void cancel({ variables: { messageId: streaming.id } }).catch((e) => setError(describeError(e))) : null;
  const onModel = (id: string) =>
    conversationId ? void update({ variables: { input: { id: conversationId, model: id } } }).catch((e) => setError(describeError(e))) : setNewChatModel(id);

  if (conversationId && loadError) return <main className="chat"><p role="alert">This conversation could not be loaded.</p></main>;
  if (conversationId && data && !data.conversation) return <main className="chat"><p role="alert">This conversation does not exist.</p></main>;
  return (
    <main className="chat" aria-label={conversation?.title ?? 'New chat'}>
      <header>
        <h1>{conversation?.title ?? 'New chat'}</h1>
        {models.length > 0 && <ModelPicker models={models} value={model} onChange={onModel} />}
      </header>
      <section className="messages" aria-label="Messages" aria-live="polite">
        {conversation?.messages.pageInfo.hasPreviousPage && (
          <button
            type="button"
            className="older"
            onClick={() => void client.query({ query: OLDER_MESSAGES, variables: { id: conversation.id, before: conversation.messages.pageInfo.startCursor } })}
          >
            Earlier messages
          </button>
        )}
        {messages.map((message) => (
          <MessageView key={message.id} message={message} busy={Boolean(streaming)} />
        ))}
        {waitingForTools && <ToolResults key={last.id} messageId={last.id} calls={(last.toolCalls as never) ?? []} />}
        <div ref={bottom} />
      </section>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      <Composer onSend={onSend} onStop={onStop} disabled={Boolean(streaming) || waitingForTools} />
    </main>
  );
}

/** Keeps the end of the chat in view as it grows, unless the reader has scrolled up. */
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

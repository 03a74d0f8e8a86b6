// A chat: the branch a conversation shows, the model, and the message box. With no conversation open,
// the first message sent creates one.
import { useEffect, useState } from 'react';
import { useMutation, useQuery } from '@apollo/client/react';
import { CANCEL_GENERATION, CHAT, CREATE_CONVERSATION, SEND_MESSAGE, UPDATE_CONVERSATION } from '../operations';
import { afterConversationChange, afterSend } from '../apollo/cache-updates';
import { describeError } from '../errors';
import { Composer } from './Composer';
import { MessageList } from './MessageList';
import { ModelPicker } from './ModelPicker';
import { graphql } from '../gql';

/** What a chat shows: the conversation, and the last messages of its current branch. Payloads that change the branch select it too. */
export const CHAT_CONVERSATION = graphql(`
  fragment ChatConversation on Conversation {
    ...ConversationItem
    messages(last: 50) {
      pageInfo { hasPreviousPage startCursor }
      edges { cursor node { ...MessageFields } }
    }
  }
`);

type Model = { id: string; name: string; provider: string; isDefault: boolean };
type Props = { conversationId: string | null; models: Model[]; onOpen: (id: string) => void };

export function Chat({ conversationId, models, onOpen }: Props) {
  const { data, error: loadError } = useQuery(CHAT, { variables: { id: conversationId! }, skip: !conversationId });
  const conversation = conversationId ? data?.conversation : null;
  const messages = conversation?.messages.edges.map((edge) => edge.node) ?? [];
  const [newChatModel, setNewChatModel] = useState<string | null>(null);
  const model = conversation?.model ?? newChatModel ?? models.find((m) => m.isDefault)?.id ?? models[0]?.id ?? '';
  const [error, setError] = useState<string | null>(null);
  const [create] = useMutation(CREATE_CONVERSATION, { update: afterConversationChange });
  const [send] = useMutation(SEND_MESSAGE, { update: afterSend });
  const [cancel] = useMutation(CANCEL_GENERATION);
  const [update] = useMutation(UPDATE_CONVERSATION);
  const streaming = messages.find((m) => m.status === 'STREAMING') ?? null;
  const last = messages.at(-1);
  const waitingForTools = last?.role === 'ASSISTANT' && last.status === 'COMPLETED' && last.finishReason === 'TOOL_CALLS';

  useEffect(() => setError(null), [conversationId]);

  const onSend = async (text: string): Promise<boolean> => {
    try {
      let id = conversationId;
      if (!id) {
        const created = await create({ variables: { input: { model } } });
        id = created.data!.createConversation.conversation.id;
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
      {conversation ? (
        <MessageList conversation={conversation} busy={Boolean(streaming)} waitingForTools={waitingForTools} />
      ) : (
        <section className="messages" aria-label="Messages" />
      )}
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      <Composer onSend={onSend} onStop={onStop} disabled={Boolean(streaming) || waitingForTools} />
    </main>
  );
}

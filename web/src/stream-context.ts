// The app's ReplyStreams, and a hook that re-renders a message as its stream grows.
import { createContext, useContext, useEffect, useSyncExternalStore } from 'react';
import type { ReplyStreams, StreamedReply } from './streams';

export const StreamsContext = createContext<ReplyStreams | null>(null);

/** While `streaming`, follows the message and returns what it has streamed so far. */
export function useStreamedReply(messageId: string, streaming: boolean): StreamedReply | undefined {
  const streams = useContext(StreamsContext)!;
  useEffect(() => {
    if (streaming) streams.follow(messageId);
  }, [streams, messageId, streaming]);
  return useSyncExternalStore(streams.subscribe, () => streams.get(messageId));
}

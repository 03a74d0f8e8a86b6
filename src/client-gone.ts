// Over SSE, a client gone while its subscription was set up never gets a response (none is written to a
// closed connection), so nothing reads the stream or ends it, and the per-viewer limits it holds
// (subscription-hold.ts) would never be given back. Such a stream is ended when its request is aborted, then
// or later. Over a WebSocket the socket ends its subscriptions: there is no request to watch.
import { isAsyncIterable, type Plugin } from '@envelop/core';
import { WatchedStream } from './watched-stream.ts';

/** Goes after the plugins that hold limits for a subscription: it ends the stream they watch. */
export function useEndWhenClientGone(): Plugin {
  return {
    onSubscribe({ args }) {
      const signal = (args.contextValue as { request?: Request }).request?.signal;
      if (!signal) return;
      return {
        onSubscribeResult({ result, setResult }) {
          if (!isAsyncIterable(result)) return;
          const stream = new WatchedStream(result, { end: () => signal.removeEventListener('abort', end) });
          // Ending is all that is asked: a source that fails to end has ended.
          const end = () => void Promise.resolve().then(() => stream.return()).catch(() => {});
          if (signal.aborted) end();
          else signal.addEventListener('abort', end, { once: true });
          setResult(stream);
        },
      };
    },
  };
}

// The server's WebSockets: what reaches graphql-ws of a socket's messages. graphql-ws parses every message as
// JSON, `connection_init` included, before anything knows who sent it; V8 takes 0.6 µs per level of
// nesting, so a message of a million nested brackets held the event loop most of a second for anyone who
// could open a socket. Such a message closes the socket unparsed, as does one larger than a
// `connection_init` can be before the socket is authenticated; and a socket being closed passes on no more
// messages (a flooding client sends on while the close handshake waits). Once authenticated, each message is
// charged by its size as it comes (`meter`), and one past its viewer's limit is closed before it is parsed.
import { WebSocket } from 'ws';
import { jsonProblem } from './input-guard.ts';

/** graphql-ws' close code for a message it cannot take. */
const BAD_MESSAGE = 4400;
/** graphql-ws' close code for a client that asks too much of a server (its "too many initialisation requests"). */
export const TOO_MANY = 4429;
/** Messages up to this size cost little to parse (a ping, a `complete`, a small subscribe), whoever sends them. */
const CHEAP_MESSAGE_BYTES = 1024;

/** The largest message before the socket is authenticated: a `connection_init` with its token. */
export const MAX_UNAUTHENTICATED_MESSAGE_BYTES = 16 * 1024;

export class GuardedWebSocket extends WebSocket {
  /** Set once the socket's token is verified (websocket.ts): its messages may then be as large as a request. */
  authenticated = false;
  /**
   * Set with `authenticated`: charges each message's size to its viewer's rate limit as it comes, before it is
   * parsed; false when it closed the socket instead (a message no limit could ever let through).
   */
  meter: ((bytes: number) => boolean) | undefined;
  /** What `meter` charged since the last operation took it: the operation's request counts it as its own. */
  metered = 0;
  /**
   * Until when (epoch ms) its viewer was told to wait (an operation refused RATE_LIMITED): a message that is not
   * cheap, sent before then, closes the socket unread, so that one past its limit cannot keep the server parsing.
   */
  refusedUntil = 0;

  override emit(event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'message') {
      if (this.readyState !== WebSocket.OPEN) return false;
      const data = args[0] as Buffer;
      if (!this.authenticated && data.length > MAX_UNAUTHENTICATED_MESSAGE_BYTES) {
        closeUnread(this, BAD_MESSAGE, `Messages before authentication may be at most ${MAX_UNAUTHENTICATED_MESSAGE_BYTES} bytes`);
        return false;
      }
      if (data.length > CHEAP_MESSAGE_BYTES && Date.now() < this.refusedUntil) {
        closeUnread(this, TOO_MANY, 'Too many requests: sent again before the time it was told to wait');
        return false;
      }
      const problem = jsonProblem(String(data));
      if (problem) {
        closeUnread(this, BAD_MESSAGE, `The message ${problem}`);
        return false;
      }
      if (this.meter && !this.meter(data.length)) return false;
    }
    return super.emit(event, ...args);
  }

  /** What the messages since the last operation were charged for their size; counted from nought again. */
  takeMetered(): number {
    const metered = this.metered;
    this.metered = 0;
    return metered;
  }

  /**
   * A write fails only when the connection is gone (cut for falling behind, slow-readers.ts, or reset by its
   * client), which closes the socket anyway: graphql-ws would log each of its pending results as an internal
   * error of the server's, to stderr, as many as the client had asked for.
   */
  override send(data: Parameters<WebSocket['send']>[0], options?: SendOptions | SendCallback, callback?: SendCallback): void {
    const done = typeof options === 'function' ? options : callback;
    super.send(data, typeof options === 'object' ? options : {}, () => done?.());
  }
}

type SendCallback = (err?: Error) => void;
type SendOptions = Exclude<Parameters<WebSocket['send']>[1], SendCallback | undefined>;

/**
 * Closes a socket and reads nothing more from it: a client that floods it would otherwise keep the server
 * reading its messages until the close handshake times out (30 s), as a flooding client never answers it.
 * The close frame has a second to leave.
 */
export function closeUnread(socket: WebSocket, code: number, reason: string): void {
  socket.close(code, reason);
  socket.pause();
  setTimeout(() => socket.terminate(), 1000).unref();
}

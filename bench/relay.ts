// The floor of bench/streaming: a server that does nothing but relay. It answers the benchmark's
// createConversation, and for each `chat` subscription (graphql-ws) it requests the reply from the vendor
// and forwards each token as a MessageDelta the moment it is read: no database, no GraphQL execution, no
// event log, no AI SDK, no thread hop. The same processes, loopback hops and clients as the real run, so
// its latency is what this machine and the benchmark itself add; the server's own share is above it.
//
// Started by `bench/streaming.ts --server relay` the way the real server is: PORT and
// OPENAI_COMPATIBLE_BASE_URL from the environment, and the same "serving GraphQL at" line.
import http from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';

const vendorBaseURL = process.env.OPENAI_COMPATIBLE_BASE_URL!;
const model = process.env.OPENAI_COMPATIBLE_MODELS!.split(',')[0];
let conversations = 0;

const server = http.createServer((req, res) => {
  req.resume().on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ data: { createConversation: { conversation: { id: `relay-${++conversations}` } } } }));
  });
});

const sockets = new WebSocketServer({ server, handleProtocols: () => 'graphql-transport-ws' });
sockets.on('connection', (socket) => {
  const running = new Map<string, http.ClientRequest>();
  socket.on('message', (data) => {
    const message = JSON.parse(String(data));
    if (message.type === 'connection_init') send(socket, { type: 'connection_ack' });
    else if (message.type === 'ping') send(socket, { type: 'pong' });
    else if (message.type === 'subscribe') running.set(message.id, relay(socket, message.id, message.payload.variables.input.content));
    else if (message.type === 'complete') running.get(message.id)?.destroy();
  });
  socket.on('close', () => running.forEach((request) => request.destroy()));
});

/** Streams the vendor's reply to `content` to the subscription `id`, a MessageDelta per SSE event (one `data:` line each, as the benchmark's vendor writes them). */
function relay(socket: WebSocket, id: string, content: string): http.ClientRequest {
  let sequenceNumber = 0;
  const request = http.request(`${vendorBaseURL}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (response) => {
    response.setEncoding('utf8');
    let buffered = '';
    response.on('data', (text: string) => {
      buffered += text;
      for (let end = buffered.indexOf('\n\n'); end >= 0; end = buffered.indexOf('\n\n')) {
        const data = buffered.slice('data: '.length, end);
        buffered = buffered.slice(end + 2);
        if (data === '[DONE]') continue;
        const delta = JSON.parse(data).choices?.[0]?.delta?.content;
        if (delta) send(socket, { id, type: 'next', payload: { data: { chat: { __typename: 'MessageDelta', sequenceNumber: ++sequenceNumber, delta } } } });
      }
    });
    response.on('end', () => send(socket, { id, type: 'complete' }));
  });
  request.on('error', () => send(socket, { id, type: 'complete' }));
  request.end(JSON.stringify({ model, messages: [{ role: 'user', content }], stream: true }));
  return request;
}

function send(socket: WebSocket, message: object): void {
  if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
}

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const { port } = server.address() as { port: number };
  console.log(`serving GraphQL at http://127.0.0.1:${port}/graphql`);
});
process.once('SIGTERM', () => process.exit(0));

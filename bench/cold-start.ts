// A fresh server, started as `npm start` starts it: how long until it serves, and how long its first chats
// wait for their first token (the first one pays for whatever is built on first use), with the built-in
// echo model and with an OpenAI-compatible provider (a local fake vendor, read on the provider threads).
//
//   node --import tsx bench/cold-start.ts [--rounds 3] [--chats 3] [--db pglite:memory] [--out bench/results/cold-start.json]
import { parseArgs } from 'node:util';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { startFakeOpenAI } from '../test/fake-openai.ts';
import { startInstance } from '../test/cluster.ts';
import { JWT_SECRET } from '../test/helpers.ts';
import { benchToken, gqlAt, round, writeResult } from './lib.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    chats: { type: 'string', default: '3' },
    db: { type: 'string', default: 'pglite:memory' },
    out: { type: 'string', default: 'bench/results/cold-start.json' },
  },
});
const CHATS = Number(values.chats);

const vendor = await startFakeOpenAI();
vendor.script('model', { tokens: ['Hello ', 'there.'] });
const token = await benchToken();
const models = { echo: 'builtin:echo', compatible: 'vendor:model' };

const rounds = [];
for (let i = 0; i < Number(values.rounds); i++) {
  for (const [provider, model] of Object.entries(models)) rounds.push({ provider, ...(await coldStart(model)) });
}
await vendor.close();

writeResult(values.out, { date: new Date().toISOString(), node: process.version, db: values.db.split(':')[0], rounds });
console.log(`| model | start → serving | first token, chat 1 | ${Array.from({ length: CHATS - 1 }, (_, i) => `chat ${i + 2}`).join(' | ')} |`);
console.log(`| --- | --- | --- | ${Array.from({ length: CHATS - 1 }, () => '---').join(' | ')} |`);
for (const r of rounds) console.log(`| ${r.provider} | ${r.servingMs} ms | ${r.firstTokenMs.join(' ms | ')} ms |`);
process.exit(0);

/** Starts a server, then runs CHATS chats one after another, timing each from subscribe to its first delta. */
async function coldStart(model: string) {
  const started = performance.now();
  const server = await startInstance('server', {
    DATABASE_URL: values.db,
    AUTH_JWT_SECRET: JWT_SECRET,
    OPENAI_COMPATIBLE_BASE_URL: vendor.baseURL,
    OPENAI_COMPATIBLE_NAME: 'vendor',
    OPENAI_COMPATIBLE_MODELS: 'model',
    NODE_ENV: 'production',
  });
  const servingMs = round(performance.now() - started);
  const client = createClient({ url: server.url.replace('http', 'ws'), webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${token}` } });
  const firstTokenMs: number[] = [];
  for (let i = 0; i < CHATS; i++) {
    const { createConversation } = await gqlAt(server.url, token, `mutation($m: String!) { createConversation(input: { model: $m }) { conversation { id } } }`, { m: model });
    const subscribed = performance.now();
    await new Promise<void>((resolve, reject) => {
      let timed = false;
      client.subscribe(
        { query: `subscription($input: SendMessageInput!) { chat(input: $input) { __typename } }`, variables: { input: { conversationId: createConversation.conversation.id, content: 'Hello there.' } } },
        {
          next: ({ data }) => {
            if (timed || (data?.chat as { __typename: string } | undefined)?.__typename !== 'MessageDelta') return;
            timed = true;
            firstTokenMs.push(round(performance.now() - subscribed));
          },
          error: reject,
          complete: resolve,
        },
      );
    });
  }
  await client.dispose();
  server.process.kill('SIGTERM');
  await server.exited;
  return { servingMs, firstTokenMs };
}

// The server as an operator runs it: compiled, started with `npm start` or `node dist/main.js`, signalled
// the way a container runtime signals (the first process alone), with production defaults.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JWT_SECRET, makeViewer, subscribe, waitFor, wsClient, type TestViewer } from './helpers.ts';

const dataDirs: string[] = [];
const children: ChildProcess[] = [];
beforeAll(() => {
  // What `npm install` did (postinstall); again if a source changed since.
  execFileSync(process.execPath, ['scripts/ensure-built.mjs'], { stdio: 'ignore' });
}, 120_000);
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
  for (const dir of dataDirs) fs.rmSync(dir, { recursive: true, force: true });
});

type Started = { process: ChildProcess; url: string; output: () => string; exited: Promise<number | null> };

/** `command` as an operator types it, on a fresh embedded database; resolves once it serves. */
async function start(command: string[], env: Record<string, string> = {}): Promise<Started> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chat-runtime-'));
  dataDirs.push(dir);
  const proc = spawn(command[0], command.slice(1), {
    env: { PATH: process.env.PATH!, HOME: os.tmpdir(), PORT: '0', HOST: '127.0.0.1', DATABASE_URL: `pglite:${dir}`, AUTH_JWT_SECRET: JWT_SECRET, LOG_LEVEL: 'info', ...env },
  });
  children.push(proc);
  let output = '';
  proc.stdout!.on('data', (chunk) => (output += chunk));
  proc.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  await waitFor(() => /serving GraphQL at/.test(output) || proc.exitCode !== null, 'the server to serve', 60_000);
  const url = /serving GraphQL at (http:\/\/[^"\s]+)/.exec(output)?.[1];
  if (!url) throw new Error(`did not start: ${output}`);
  return { process: proc, url, output: () => output, exited };
}

const server = (url: string) => ({ url, port: 0, stopAccepting() {}, close: async () => {} });
const CHAT = `subscription($input: SendMessageInput!) { chat(input: $input) { __typename ... on MessageCompleted { message { status content } } } }`;

async function gql(url: string, viewer: TestViewer, query: string, variables: Record<string, unknown> = {}) {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${viewer.token}` }, body: JSON.stringify({ query, variables }) });
  return (await response.json()) as any;
}

describe('signals', () => {
  it('SIGTERM to the npm start process alone drains the server: a reply finishes, sockets close with 1001, exit 0', async () => {
    const started = await start(['npm', 'start'], { ECHO_DELAY_MS: '40', SHUTDOWN_GRACE_MS: '10000' });
    const viewer = await makeViewer();
    const { data } = await gql(started.url, viewer, `mutation { createConversation(input: { model: "builtin:echo" }) { conversation { id } } }`);
    let closeCode = 0;
    const client = wsClient(server(started.url), viewer, { onClose: (code) => (closeCode = code) });
    const text = Array.from({ length: 20 }, (_, i) => `word${i}`).join(' ');
    const chat = subscribe(client, CHAT, { input: { conversationId: data.createConversation.conversation.id, content: text } });
    await chat.next(3);
    started.process.kill('SIGTERM'); // npm's own pid, as `docker stop` would
    expect(await started.exited).toBe(0);
    const events = await chat.all();
    expect(events.at(-1)!.data.chat).toEqual({ __typename: 'MessageCompleted', message: { status: 'COMPLETED', content: text } });
    expect(closeCode).toBe(1001);
    expect(started.output()).toContain('"msg":"stopped"');
    await expect(fetch(started.url)).rejects.toThrow(); // nothing is left serving
  }, 90_000);

  it('SIGINT to the npm start process alone stops the server too', async () => {
    const started = await start(['npm', 'start']);
    started.process.kill('SIGINT');
    expect(await started.exited).toBe(0);
    expect(started.output()).toContain('"signal":"SIGINT"');
    await expect(fetch(started.url)).rejects.toThrow();
  }, 60_000);

  it('SIGTERM stops a server whose log reader stopped reading, then went away (the lines it could not write are dropped)', async () => {
    const started = await start([process.execPath, 'dist/main.js'], { NODE_ENV: 'production', RATE_LIMIT_REQUESTS_PER_MINUTE: '0' });
    const viewer = await makeViewer();
    // The reader stops: the pipe fills and the logger keeps what it cannot write in its buffer.
    started.process.stdout!.removeAllListeners('data');
    started.process.stdout!.pause();
    const body = JSON.stringify({ query: '{ viewer { userId } }' }); // one log line each
    const post = () => fetch(started.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${viewer.token}` }, body }).then((r) => r.text());
    for (let round = 0; round < 300; round++) await Promise.all(Array.from({ length: 10 }, post));
    // Then it is gone (a log shipper that died), and the server is told to stop.
    started.process.stdout!.destroy();
    started.process.kill('SIGTERM');
    expect(await started.exited).not.toBeUndefined(); // it exits (it used to retry the broken pipe forever)
    await expect(fetch(started.url)).rejects.toThrow();
  }, 90_000);

  it('the production command, node dist/main.js, drains on SIGTERM', async () => {
    const started = await start([process.execPath, 'dist/main.js'], { NODE_ENV: 'production' });
    started.process.kill('SIGTERM');
    expect(await started.exited).toBe(0);
    expect(started.output()).toContain('"msg":"stopped"');
  }, 60_000);
});

describe('production defaults', () => {
  const INTROSPECTION = '{ __schema { queryType { name } } }';

  it('hide GraphiQL and introspection, and say loudly once that the database is the embedded one, and that /metrics is open', async () => {
    const started = await start([process.execPath, 'dist/main.js'], { NODE_ENV: 'production' });
    const viewer = await makeViewer();
    const page = await fetch(started.url, { headers: { accept: 'text/html' } });
    expect(page.headers.get('content-type') ?? '').not.toContain('text/html');
    const introspection = await gql(started.url, viewer, INTROSPECTION);
    expect(introspection.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(started.output().match(/PRODUCTION ON THE EMBEDDED DATABASE/g)).toHaveLength(1);
    expect(started.output()).toContain('METRICS_TOKEN is not set');
    started.process.kill('SIGTERM');
    await started.exited;
  }, 60_000);

  it('show both with GRAPHIQL=true', async () => {
    const started = await start([process.execPath, 'dist/main.js'], { NODE_ENV: 'production', GRAPHIQL: 'true' });
    const page = await fetch(started.url, { headers: { accept: 'text/html' } });
    expect(page.headers.get('content-type')).toContain('text/html');
    // Not for another site to frame (clickjacking), nor to sniff as another type.
    expect(page.headers.get('content-security-policy')).toBe("frame-ancestors 'none'");
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect((await gql(started.url, await makeViewer(), INTROSPECTION)).data.__schema.queryType.name).toBe('Query');
    started.process.kill('SIGTERM');
    await started.exited;
  }, 60_000);
});

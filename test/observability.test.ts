// What an operator sees: /metrics in Prometheus' format after a chat turn, behind METRICS_TOKEN; a log
// line per operation with the request id that the response returns and every line of the request carries;
// and a closed API with PERSISTED_OPERATIONS.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../src/logger.ts';
import { currentRequest, withRequest } from '../src/observability/request-context.ts';
import { createConversation, startTestApp, subscribe, waitForMessageStatus, wsClient, type TestApp } from './helpers.ts';
import type { RunningServer } from '../src/server.ts';
import pg from 'pg';
import { ADMIN_DATABASE_URL, createScratchDatabase } from './cluster.ts';

const METRICS_TOKEN = 'metrics-token-of-this-test';
const CHAT = `subscription($input: SendMessageInput!) { chat(input: $input) { __typename } }`;

describe('metrics and the request log', () => {
  let t: TestApp;
  let server: RunningServer;
  const lines: any[] = [];
  beforeAll(async () => {
    t = await startTestApp(
      { METRICS_TOKEN, ECHO_DELAY_MS: '5' },
      { log: createLogger({ logLevel: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) }) },
    );
    server = await t.listen();
  });
  afterAll(() => t.close());

  const metricsUrl = () => server.url.replace('/graphql', '/metrics');

  it('/ready asks the database at most once a second, however many ask it', async () => {
    const readyUrl = server.url.replace('/graphql', '/ready');
    await new Promise((resolve) => setTimeout(resolve, 1100)); // past any answer still shared
    const { statements } = await t.countQueries(() => Promise.all(Array.from({ length: 100 }, () => fetch(readyUrl).then((r) => r.json()))));
    // Exactly one, however long the hundred took (the next is asked for only a second after it started).
    expect(statements.filter((sql) => sql.includes('SELECT 1')).length).toBeGreaterThanOrEqual(1);
    expect(statements.filter((sql) => sql.includes('SELECT 1')).length).toBeLessThanOrEqual(2);
    expect(await (await fetch(readyUrl)).json()).toEqual({ ready: true, checks: { database: true, accepting: true } });
  });

  it('serves Prometheus metrics of a chat turn, only with METRICS_TOKEN', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer, { model: 'builtin:echo' });
    const client = wsClient(server, viewer);
    await subscribe(client, CHAT, { input: { conversationId: c.id, content: 'measure me please' } }).all();
    await client.dispose();

    expect((await fetch(metricsUrl())).status).toBe(401);
    expect((await fetch(metricsUrl(), { headers: { authorization: 'Bearer wrong-token-of-the-same-size' } })).status).toBe(401);
    const response = await fetch(metricsUrl(), { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1]);
    expect(value(/^generation_time_to_first_token_seconds_count\{model="builtin:echo"\} (\d+)/m)).toBeGreaterThanOrEqual(1);
    expect(value(/^generation_duration_seconds_count\{model="builtin:echo",status="COMPLETED"\} (\d+)/m)).toBeGreaterThanOrEqual(1);
    expect(value(/^generation_output_tokens_total\{model="builtin:echo"\} (\d+)/m)).toBeGreaterThanOrEqual(3);
    expect(value(/^generations_running (\d+)/m)).toBe(0);
    expect(value(/^graphql_operations_total\{type="subscription",field="chat"\} (\d+)/m)).toBeGreaterThanOrEqual(1);
    expect(value(/^graphql_operation_duration_seconds_count\{type="mutation",field="createConversation"\} (\d+)/m)).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/^websocket_connections \d+/m);
    expect(text).toMatch(/^graphql_subscriptions \d+/m);
    expect(text).toMatch(/^redis_event_log_backlog 0/m);
    expect(text).toMatch(/^# TYPE provider_failures_total counter/m);
    expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
  });

  it('counts errors sent to clients by code, over HTTP and WebSocket', async () => {
    const viewer = await t.viewer();
    const count = async () => Number(/^graphql_errors_total\{code="NOT_FOUND"\} (\d+)/m.exec(await (await fetch(metricsUrl(), { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text())?.[1] ?? 0);
    const before = await count();
    const missing = Buffer.from('Conversation:00000000-0000-7000-8000-000000000000').toString('base64');
    await t.request(`mutation($id: ID!) { archiveConversation(input: { id: $id }) { conversation { id } } }`, { id: missing }, viewer);
    const client = wsClient(server, viewer);
    await subscribe(client, `subscription($id: ID!) { conversationEvents(conversationId: $id) { type } }`, { id: missing }).all();
    await client.dispose();
    expect(await count()).toBe(before + 2);
  });

  it('logs each operation once, with the request id the response returns, on every line of the request', async () => {
    const viewer = await t.viewer();
    const response = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${viewer.token}`, 'x-request-id': 'req-from-the-proxy-1' },
      body: JSON.stringify({ query: 'query Sidebar { conversations(first: 1) { totalCount } nope: node(id: "bm9wZQ==") { id } }', operationName: 'Sidebar' }),
    });
    expect(response.headers.get('x-request-id')).toBe('req-from-the-proxy-1');
    const ofRequest = lines.filter((line) => line.requestId === 'req-from-the-proxy-1');
    const operation = ofRequest.filter((line) => line.msg === 'operation');
    expect(operation).toHaveLength(1);
    expect(operation[0]).toMatchObject({ level: 30, operation: 'Sidebar', type: 'query', userId: viewer.userId, errors: ['BAD_USER_INPUT'] });
    expect(operation[0].ms).toBeGreaterThan(0);

    // A client's id of no plausible shape is replaced by one of the server's.
    const other = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${viewer.token}`, 'x-request-id': 'bad id with spaces' }, body: JSON.stringify({ query: '{ viewer { userId } }' }) });
    expect(other.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(lines.some((line) => line.requestId === other.headers.get('x-request-id') && line.msg === 'operation')).toBe(true);
  });

  it('logs a request refused before its operation ran (unparsable, invalid) once, with its codes', async () => {
    const viewer = await t.viewer();
    const refused = async (id: string, body: string) => {
      await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${viewer.token}`, 'x-request-id': id }, body });
      return lines.filter((line) => line.requestId === id && line.level >= 30).map(({ msg, errors }) => ({ msg, errors }));
    };
    expect(await refused('refused-json-1', '{"query": nope')).toEqual([{ msg: 'request refused', errors: ['BAD_USER_INPUT'] }]);
    expect(await refused('refused-invalid-1', JSON.stringify({ query: '{ viewer { nope } }' }))).toEqual([{ msg: 'request refused', errors: ['BAD_USER_INPUT'] }]);
    // Refused at the door, over POST or GET: no line (a flood of them would fill the log).
    await fetch(`${server.url}?query=${encodeURIComponent('{ viewer { userId } }')}`, { headers: { authorization: 'Bearer not-a-token', 'x-request-id': 'refused-door-1' } });
    expect(lines.filter((line) => line.requestId === 'refused-door-1' && line.level >= 30)).toEqual([]);
  });
});

describe('a log line', () => {
  it("carries its request's id and its own fields, none of an earlier line's (a statement, an error)", () => {
    const lines: any[] = [];
    const log = createLogger({ logLevel: 'trace' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    withRequest({ requestId: 'req-1' }, () => {
      log.trace({ sql: 'SELECT 1' }, 'sql');
      log.warn({ err: new Error('a failure') }, 'failed');
      log.info({ ms: 1 }, 'operation');
      expect(currentRequest()).toEqual({ requestId: 'req-1' });
    });
    log.info('outside any request');
    expect(lines.map(({ level, time, ...line }) => line)).toEqual([
      { requestId: 'req-1', sql: 'SELECT 1', msg: 'sql' },
      { requestId: 'req-1', err: expect.objectContaining({ message: 'a failure' }), msg: 'failed' },
      { requestId: 'req-1', ms: 1, msg: 'operation' },
      { msg: 'outside any request' },
    ]);
  });
});

describe('work every request shares', () => {
  it("is done in none of their names: the timer that writes every streaming reply's text, started by the first", async () => {
    const app = await startTestApp({ ECHO_DELAY_MS: '20' });
    try {
      const server = await app.listen();
      const viewer = await app.viewer();
      const send = async (requestId: string) => {
        const c = await createConversation(app, viewer, { model: 'builtin:echo' });
        const response = await fetch(server.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${viewer.token}`, 'x-request-id': requestId },
          body: JSON.stringify({
            query: 'mutation($c: ID!, $t: String!) { sendMessage(input: { conversationId: $c, content: $t }) { assistantMessage { id } } }',
            variables: { c: c.id, t: Array.from({ length: 30 }, (_, i) => `word${i}`).join(' ') },
          }),
        });
        return ((await response.json()) as any).data.sendMessage.assistantMessage.id as string;
      };
      const { statements, requestIds } = await app.countQueries(async () => {
        const replies = [await send('starts-the-timer'), await send('comes-second')];
        for (const id of replies) await waitForMessageStatus((q, v) => app.gql(q, v, viewer), id, 'COMPLETED');
      });
      const writes = statements.flatMap((sql, i) => (sql.includes('"content" = m."content" || v.text') ? [requestIds[i]] : []));
      expect(writes.length).toBeGreaterThan(1);
      expect(writes).toEqual(writes.map(() => null));
      expect(requestIds).toContain('comes-second'); // (the requests' own statements are theirs)
    } finally {
      await app.close();
    }
  }, 30_000);
});

describe("the pool's report of an idle connection that failed", () => {
  it('is in no request\'s name, though the request opened the connection (Node carries its context into the socket)', async () => {
    const database = await createScratchDatabase();
    const lines: Record<string, unknown>[] = [];
    const log = createLogger({ logLevel: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const app = await startTestApp({ DATABASE_URL: database.url, DATABASE_POOL_SIZE: '1' }, { log });
    const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
    await admin.connect();
    const failures = () => lines.filter((line) => line.msg === 'an idle database connection failed');
    /** Ends the app's connections from PostgreSQL's side, and waits for the pool's report of it. */
    const endConnections = async () => {
      const before = failures().length;
      await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, [new URL(database.url).pathname.slice(1)]);
      await vi.waitFor(() => expect(failures().length).toBeGreaterThan(before), { timeout: 5_000 });
    };
    try {
      const server = await app.listen();
      const viewer = await app.viewer();
      await endConnections(); // the one opened at start, outside any request
      const response = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${viewer.token}`, 'x-request-id': 'opens-a-connection' },
        body: JSON.stringify({ query: '{ conversations(first: 1) { edges { node { id } } } }' }),
      });
      expect(response.status).toBe(200);
      expect(lines.some((line) => line.requestId === 'opens-a-connection')).toBe(true);
      await endConnections(); // the one the request opened
      expect(failures().length).toBeGreaterThanOrEqual(2);
      expect(failures().map((line) => line.requestId)).toEqual(failures().map(() => undefined));
    } finally {
      await app.close();
      await admin.end();
      await database.drop();
    }
  }, 30_000);
});

describe('persisted operations', () => {
  let t: TestApp;
  let server: RunningServer;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chat-persisted-'));
  const manifest = {
    viewerId: '{ viewer { userId } }',
    events: 'subscription($id: ID!) { conversationEvents(conversationId: $id) { type } }',
  };
  beforeAll(async () => {
    fs.writeFileSync(path.join(dir, 'persisted-documents.json'), JSON.stringify(manifest));
    t = await startTestApp({ PERSISTED_OPERATIONS: path.join(dir, 'persisted-documents.json') });
    server = await t.listen();
  });
  afterAll(async () => {
    await t.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const post = async (body: object, token: string) =>
    (await (await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) })).json()) as any;

  it('runs the manifest by id (documentId or Apollo persisted-query hash) and nothing else', async () => {
    const viewer = await t.viewer();
    expect((await post({ documentId: 'viewerId' }, viewer.token)).data.viewer.userId).toBe(viewer.userId);
    expect((await post({ extensions: { persistedQuery: { version: 1, sha256Hash: 'viewerId' } } }, viewer.token)).data.viewer.userId).toBe(viewer.userId);
    const arbitrary = await post({ query: '{ viewer { userId } }' }, viewer.token);
    expect(arbitrary.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    const unknown = await post({ documentId: 'not-in-the-manifest' }, viewer.token);
    expect(unknown.errors[0].message).toBe('PersistedQueryNotFound');
  });

  it('applies to WebSocket operations too', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer).catch(() => null); // createConversation is not in the manifest
    expect(c).toBeNull();
    const client = wsClient(server, viewer);
    const refused = subscribe(client, '{ viewer { userId } }');
    await refused.all();
    expect((refused.error as any[])[0].extensions.code).toBe('BAD_USER_INPUT');
    const byId = await new Promise<any>((resolve, reject) =>
      client.subscribe({ query: '', extensions: { persistedQuery: { version: 1, sha256Hash: 'viewerId' } } } as any, { next: resolve, error: reject, complete: () => {} }),
    );
    expect(byId.data.viewer.userId).toBe(viewer.userId);
    await client.dispose();
  });
});

describe('metrics without METRICS_TOKEN', () => {
  it('are written out at most once a second, however many ask (anyone may)', async () => {
    const t = await startTestApp();
    try {
      const server = await t.listen();
      const written = vi.spyOn(t.app.services.metrics.registry, 'metrics');
      const texts = await Promise.all(Array.from({ length: 50 }, () => fetch(server.url.replace('/graphql', '/metrics')).then((r) => r.text())));
      expect(texts[0]).toContain('graphql_operations_total');
      expect(written.mock.calls.length).toBeGreaterThanOrEqual(1);
      expect(written.mock.calls.length).toBeLessThanOrEqual(2);
    } finally {
      await t.close();
    }
  });
});

// Test harness: an app on the test database, tokens for fresh viewers, and GraphQL clients over
// yoga.fetch (HTTP), a real port (graphql-ws, SSE) and a counter of SQL statements.
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { expect } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { createApp, type App, type AppOptions } from '../src/app.ts';
import { startServer, type RunningServer } from '../src/server.ts';
import { currentRequest } from '../src/observability/request-context.ts';

export const JWT_SECRET = 'test-secret-that-is-long-enough';

export type GraphQLResponse<T = any> = { data?: T; errors?: { message: string; extensions?: Record<string, any>; path?: string[] }[] };

export type TestViewer = { userId: string; orgId: string | null; token: string };

export type TestApp = {
  app: App;
  /** POST through yoga.fetch; returns the parsed body and the HTTP status. */
  request<T = any>(query: string, variables?: Record<string, unknown>, viewer?: TestViewer | { token: string } | null): Promise<{ status: number; body: GraphQLResponse<T> }>;
  /** Like request, but fails the test (printing the whole response) on any error; returns data. */
  gql<T = any>(query: string, variables?: Record<string, unknown>, viewer?: TestViewer | null): Promise<T>;
  viewer(options?: { orgId?: string | null; userId?: string }): Promise<TestViewer>;
  /** Starts a real HTTP + WebSocket server on a free port. */
  listen(): Promise<RunningServer>;
  /** SQL statements sent while `fn` ran, and the request each was sent in the name of (none: null). */
  countQueries(fn: () => Promise<unknown>): Promise<{ count: number; statements: string[]; requestIds: (string | null)[] }>;
  close(): Promise<void>;
};

export async function startTestApp(env: Record<string, string> = {}, { log, spanExporter }: Pick<AppOptions, 'log' | 'spanExporter'> = {}): Promise<TestApp> {
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: process.env.TEST_DATABASE_URL ?? 'pglite:memory',
    AUTH_JWT_SECRET: JWT_SECRET,
    // Tests spend a viewer's requests as fast as they run: a minute's at once, as a burst (rate-limit tests set theirs).
    RATE_LIMIT_REQUESTS_BURST: String(Math.max(1, Number(env.RATE_LIMIT_REQUESTS_PER_MINUTE ?? 1200))),
    ...env,
  });
  let recording: { statements: string[]; requestIds: (string | null)[] } | null = null;
  const onQuery = (sql: string) => {
    recording?.statements.push(sql);
    recording?.requestIds.push(currentRequest()?.requestId ?? null);
  };
  const app = await createApp(config, { log, spanExporter, onQuery });
  const servers: RunningServer[] = [];

  const request: TestApp['request'] = async (query, variables, viewer) => {
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/graphql-response+json' };
    if (viewer) headers.authorization = `Bearer ${viewer.token}`;
    const response = await app.yoga.fetch('http://localhost/graphql', { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
    return { status: response.status, body: (await response.json()) as GraphQLResponse };
  };

  return {
    app,
    request,
    async gql(query, variables, viewer) {
      const { body } = await request(query, variables, viewer);
      expectNoErrors(body);
      return body.data;
    },
    viewer: (options = {}) => makeViewer(options),
    async listen() {
      const server = await startServer(app, { host: '127.0.0.1', port: 0 });
      servers.push(server);
      return server;
    },
    async countQueries(fn) {
      recording = { statements: [], requestIds: [] };
      try {
        await fn();
        return { count: recording.statements.length, ...recording };
      } finally {
        recording = null;
      }
    },
    async close() {
      await Promise.all(servers.map((s) => s.close()));
      await app.close();
    },
  };
}

export async function makeViewer({ orgId = null, userId = `user-${randomUUID()}` }: { orgId?: string | null; userId?: string } = {}): Promise<TestViewer> {
  return { userId, orgId, token: await signToken({ sub: userId, ...(orgId ? { org: orgId } : {}) }) };
}

export async function signToken(claims: Record<string, unknown>, { secret = JWT_SECRET, expiresIn = '1h' } = {}): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime(expiresIn).sign(new TextEncoder().encode(secret));
}

/** Hive's expectNoGraphQLErrors: a failure shows the whole response. */
export function expectNoErrors(body: GraphQLResponse): void {
  expect(body.errors, JSON.stringify(body, null, 2)).toBeUndefined();
}

export function expectErrorCode(body: GraphQLResponse, code: string): NonNullable<GraphQLResponse['errors']>[number] {
  expect(body.errors?.[0]?.extensions?.code, JSON.stringify(body, null, 2)).toBe(code);
  return body.errors![0];
}

export function wsClient(server: RunningServer, viewer: TestViewer | null, options: { onClose?: (code: number, reason: string) => void } = {}): Client {
  return createClient({
    url: server.url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: false,
    onNonLazyError: () => {}, // a refused connection is what some tests want; they check the close code
    connectionParams: viewer ? { authorization: `Bearer ${viewer.token}` } : {},
    on: { closed: (event) => options.onClose?.((event as CloseEvent).code, (event as CloseEvent).reason) },
  });
}

/** Collects a subscription's results; `next(n)` waits until n have arrived. */
export function subscribe<T = any>(client: Client, query: string, variables: Record<string, unknown> = {}) {
  const results: GraphQLResponse<T>[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  let completed = false;
  let failure: unknown;
  const settle = () => {
    for (const w of [...waiters]) if (results.length >= w.n || completed) (waiters.splice(waiters.indexOf(w), 1), w.resolve());
  };
  const dispose = client.subscribe<T>(
    { query, variables },
    {
      next: (value) => (results.push(value as GraphQLResponse<T>), settle()),
      error: (error) => ((failure = error), (completed = true), settle()),
      complete: () => ((completed = true), settle()),
    },
  );
  return {
    results,
    get completed() {
      return completed;
    },
    get error() {
      return failure;
    },
    async next(n: number, timeoutMs = 5000): Promise<GraphQLResponse<T>[]> {
      if (results.length < n && !completed) {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`timed out waiting for ${n} results; got ${JSON.stringify(results)}`)), timeoutMs);
          waiters.push({ n, resolve: () => (clearTimeout(timer), resolve()) });
        });
      }
      return results.slice(0, n);
    },
    /** Waits until the server completes the subscription; returns every result. */
    async all(timeoutMs = 10_000): Promise<GraphQLResponse<T>[]> {
      await this.next(Number.MAX_SAFE_INTEGER, timeoutMs);
      return results;
    },
    dispose,
  };
}

/** A subscription over SSE (graphql-yoga's distinct-connection mode): every `next` payload until complete. */
export async function sseSubscribe(url: string, viewer: TestViewer, query: string, variables: Record<string, unknown> = {}): Promise<GraphQLResponse[]> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${viewer.token}` },
    body: JSON.stringify({ query, variables }),
  });
  const text = await response.text(); // the server ends the response after the terminal event
  return text
    .split('\n\n')
    .filter((block) => block.startsWith('event: next'))
    .map((block) => JSON.parse(block.split('\n').find((line) => line.startsWith('data:'))!.slice(5)));
}

/** Polls `condition` until it holds; fails after timeoutMs, saying what it waited for. */
export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > until) throw new Error(`waited ${timeoutMs} ms for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Polls a message (through `gql`, on any server) until it has `status`. */
export async function waitForMessageStatus(
  gql: (query: string, variables: Record<string, unknown>) => Promise<any>,
  id: string,
  status: string,
  timeoutMs = 10_000,
) {
  return waitForMessage(gql, id, (node) => node.status === status, `to be ${status}`, timeoutMs);
}

/** Polls a message until `until` holds for it; fails after timeoutMs, saying what it waited for. */
export async function waitForMessage(
  gql: (query: string, variables: Record<string, unknown>) => Promise<any>,
  id: string,
  until: (node: { status: string; content: string }) => boolean,
  what: string,
  timeoutMs = 10_000,
) {
  const start = Date.now();
  for (;;) {
    const { node } = await gql(`query($id: ID!) { node(id: $id) { ... on Message { id status content error tokens } } }`, { id });
    if (until(node)) return node;
    if (Date.now() - start > timeoutMs) throw new Error(`waited ${timeoutMs} ms for the message ${what}; it is ${node.status} with ${node.content.length} characters`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// ---- factories ----

export const CREATE_CONVERSATION = /* GraphQL */ `
  mutation Create($input: CreateConversationInput!) {
    createConversation(input: $input) {
      conversation { id title status version model systemPrompt metadata projectId agentId messageCount totalTokens preview createdAt updatedAt archivedAt deletedAt lastMessageAt }
    }
  }`;

export const APPEND_MESSAGE = /* GraphQL */ `
  mutation Append($input: AppendMessageInput!) {
    appendMessage(input: $input) {
      message { id position role content status tokens toolCalls toolCallId metadata createdAt completedAt chatSession { id } }
      conversation { id messageCount totalTokens preview updatedAt lastMessageAt version }
    }
  }`;

export async function createConversation(t: TestApp, viewer: TestViewer, input: Record<string, unknown> = {}) {
  const data = await t.gql(CREATE_CONVERSATION, { input: { title: 'A conversation', ...input } }, viewer);
  return data.createConversation.conversation;
}

export async function appendMessage(t: TestApp, viewer: TestViewer, conversationId: string, input: Record<string, unknown> = {}) {
  const data = await t.gql(APPEND_MESSAGE, { input: { conversationId, role: 'USER', content: 'Hello there', ...input } }, viewer);
  return data.appendMessage;
}

// GraphiQL in a real browser (Debian's Chromium driven by playwright-core): the page loads with no network
// beyond this server, runs a mutation and a query against the API, and a subscription over graphql-ws.
// `npm run test:browser`; CHROMIUM_PATH names the browser (default /usr/bin/chromium).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startTestApp, type TestApp } from '../helpers.ts';
import type { RunningServer } from '../../src/server.ts';

let t: TestApp;
let server: RunningServer;
let browser: Browser;
let page: Page;
const outsideRequests: string[] = [];

beforeAll(async () => {
  t = await startTestApp({ AUTH_JWT_SECRET: '', ECHO_DELAY_MS: '50' }); // the dev user: no token to type
  server = await t.listen();
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = await browser.newPage();
  // Anything fetched over the network from somewhere else (a CDN, say); blob: and data: URLs are local.
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (['http:', 'https:', 'ws:', 'wss:'].includes(url.protocol) && url.host !== new URL(server.url).host) outsideRequests.push(url.href);
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await t?.close();
});

/** Types the operation into GraphiQL's (Monaco) editor, runs it, and returns the response text shown. */
async function run(query: string, expected: string): Promise<string> {
  await page.locator('.graphiql-query-editor .monaco-editor').first().click();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText(query);
  await page.locator('.graphiql-execute-button').click();
  const result = () => page.locator('.result-window').innerText().then((text) => text.replace(/\u00a0/g, ' '));
  await expect.poll(result, { timeout: 15_000 }).toContain(expected);
  return result();
}

it('loads GraphiQL from this server alone and runs operations against the API', async () => {
  await page.goto(server.url, { waitUntil: 'load' });
  await expect.poll(() => page.locator('.graphiql-query-editor').count(), { timeout: 20_000 }).toBeGreaterThan(0);
  expect(await page.title()).toBe('Chat GraphQL API');

  const created = await run('mutation { createConversation(input: { title: "from the browser" }) { conversation { title status } } }', '"ACTIVE"');
  expect(created).toContain('"from the browser"');

  const listed = await run('{ viewer { userId } conversations { totalCount edges { node { title } } } }', '"totalCount"');
  expect(listed).toContain('"dev"');
  expect(listed).toContain('"from the browser"');
  expect(outsideRequests).toEqual([]);
}, 60_000);

it('streams a chat reply over graphql-ws in GraphiQL', async () => {
  const { conversations } = await t.gql('{ conversations(first: 1) { edges { node { id } } } }', {}, null);
  const id = conversations.edges[0].node.id;
  const streamed = await run(
    `subscription { chat(input: { conversationId: "${id}", content: "hello from a browser" }) { __typename ... on MessageCompleted { message { content status } } } }`,
    'MessageCompleted',
  );
  expect(streamed).toContain('"hello from a browser"');
  expect(streamed).toContain('"COMPLETED"');
}, 60_000);

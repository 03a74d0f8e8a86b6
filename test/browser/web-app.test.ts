// The web app at / in a real browser (Debian's Chromium driven by playwright-core), found by the roles
// and names a person or a screen reader would use. The server runs on the embedded database as the
// local user (no token), builtin:echo streaming a word every 25 ms. `npm run test:browser` builds the app
// first. With WEB_SCREENSHOTS=<dir>, the main states are also saved there (web/screenshots for the README).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type BrowserContext, type Page, type WebSocketRoute } from 'playwright-core';
import { startTestApp, signToken, type TestApp } from '../helpers.ts';
import type { RunningServer } from '../../src/server.ts';
import { startFakeOpenAI, type FakeOpenAI } from '../fake-openai.ts';

const LAUNCH = {
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
};
const SCREENSHOTS = process.env.WEB_SCREENSHOTS;

let vendor: FakeOpenAI;
let t: TestApp;
let server: RunningServer;
let origin: string;
let browser: Browser;
let context: BrowserContext;
/** Errors printed in any page's console, and requests to anywhere but this server. */
const consoleErrors: string[] = [];
const outsideRequests: string[] = [];

beforeAll(async () => {
  // A provider besides echo, whose model "broken" answers every request with an HTTP 500.
  vendor = await startFakeOpenAI();
  vendor.script('broken', { status: 500 });
  t = await startTestApp({
    AUTH_JWT_SECRET: '',
    ECHO_DELAY_MS: '25',
    OPENAI_COMPATIBLE_BASE_URL: vendor.baseURL,
    OPENAI_COMPATIBLE_NAME: 'fake',
    OPENAI_COMPATIBLE_MODELS: 'broken',
    DEFAULT_MODEL: 'builtin:echo',
    CONVERSATION_TITLES: 'first-words',
  });
  server = await t.listen();
  origin = new URL(server.url).origin;
  browser = await chromium.launch(LAUNCH);
  context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await t?.close();
  await vendor?.close();
});

async function newPage(into: BrowserContext = context): Promise<Page> {
  const page = await into.newPage();
  page.on('console', (message) => message.type() === 'error' && consoleErrors.push(message.text()));
  page.on('pageerror', (error) => consoleErrors.push(String(error)));
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (['http:', 'https:', 'ws:', 'wss:'].includes(url.protocol) && url.origin !== origin && url.origin !== origin.replace('http', 'ws')) outsideRequests.push(url.href);
  });
  return page;
}

const words = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}${i}`).join(' ');
const sidebar = (page: Page) => page.getByRole('navigation', { name: 'Conversations' });
const replies = (page: Page) => page.getByRole('article', { name: 'Assistant message' });
const lastReply = (page: Page) => replies(page).last();
const textOf = (page: Page, locator = lastReply(page)) => locator.locator('.markdown').innerText().catch(() => '');
const isStreaming = (page: Page) => lastReply(page).getAttribute('aria-busy').then((busy) => busy === 'true').catch(() => false);

async function send(page: Page, text: string): Promise<void> {
  const box = page.getByRole('textbox', { name: 'Message' });
  await box.fill(text);
  await box.press('Enter');
}

/**
 * Samples the reply shown while it streams, until it is done: every sample must be the start of `text`
 * (a piece shown twice, or out of place, would not be). Returns how many samples were taken.
 */
async function watchPrefixes(page: Page, text: string): Promise<number> {
  let samples = 0;
  for (const until = Date.now() + 30_000; Date.now() < until; samples++) {
    const [shown, streaming] = [await textOf(page), await isStreaming(page)];
    expect(text.startsWith(shown.trim()), `shown while streaming: ${shown}`).toBe(true);
    if (!streaming && shown === text) return samples;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('the reply did not end');
}

async function shoot(page: Page, name: string): Promise<void> {
  if (SCREENSHOTS) await page.screenshot({ path: `${SCREENSHOTS}/${name}.png` });
}

/** A new chat with one finished reply; returns the page, left on it. */
async function chatWithReply(text: string): Promise<Page> {
  const page = await newPage();
  await page.goto(origin);
  await send(page, text);
  await expect.poll(() => textOf(page), { timeout: 15_000 }).toBe(text);
  await expect.poll(() => isStreaming(page)).toBe(false);
  return page;
}

describe('the web app', () => {
  it('a new chat: the reply streams in as Markdown, the conversation gets a title in the sidebar under Today', async () => {
    const page = await newPage();
    const script = page.waitForResponse((response) => /\/assets\/.+\.js$/.test(response.url()));
    await page.goto(origin);
    // The app's script comes as the build compressed it (web/precompress.ts): brotli, to Chromium.
    expect((await (await script).allHeaders())['content-encoding']).toBe('br');
    await sidebar(page).getByRole('button', { name: 'New chat' }).waitFor();
    const text = `# Plans\n\nA **bold** start ${words(40, 'w')}`;
    await send(page, text);
    await expect.poll(() => page.url()).toMatch(/\/c\/.+/);
    // Streaming: some of the text shown while the message is still busy.
    await expect.poll(async () => (await isStreaming(page)) && (await textOf(page)).length > 0, { timeout: 10_000 }).toBe(true);
    expect((await textOf(page)).length).toBeLessThan(text.length);
    await expect.poll(() => isStreaming(page), { timeout: 15_000 }).toBe(false);
    await expect.poll(() => lastReply(page).getByRole('heading', { name: 'Plans' }).count()).toBe(1);
    expect(await lastReply(page).locator('strong').innerText()).toBe('bold');
    const today = sidebar(page).getByRole('region', { name: 'Today' });
    await expect.poll(() => today.getByRole('link').first().innerText(), { timeout: 10_000 }).toContain('Plans A bold start w0 w1');
    expect(await page.getByRole('main').locator('header h1').innerText()).toBe('Plans A bold start w0 w1');
    await shoot(page, 'chat');
    await page.close();
  }, 60_000);

  it('the sidebar loads more as it scrolls, and searches', async () => {
    for (let i = 0; i < 45; i++) await t.gql(`mutation($t: String!) { createConversation(input: { title: $t }) { conversation { id } } }`, { t: `bulk ${i}` }, null);
    const page = await newPage();
    await page.goto(origin);
    const bulk = () => sidebar(page).getByRole('link', { name: /^bulk \d+/ }).count();
    await expect.poll(bulk).toBe(30); // the first page
    await sidebar(page).getByRole('link', { name: /^bulk \d+/ }).last().scrollIntoViewIfNeeded();
    await sidebar(page).locator('.sentinel').scrollIntoViewIfNeeded();
    await expect.poll(bulk).toBe(45);
    await sidebar(page).getByRole('searchbox', { name: 'Search conversations' }).fill('bulk 7');
    await expect.poll(() => sidebar(page).getByRole('link').allInnerTexts()).toEqual(['bulk 7']);
    await sidebar(page).getByRole('searchbox', { name: 'Search conversations' }).fill('');
    await expect.poll(bulk).toBeGreaterThanOrEqual(30);
    await page.close();
  }, 60_000);

  it('Shift+Enter breaks the line; Enter sends', async () => {
    const page = await newPage();
    await page.goto(origin);
    const box = page.getByRole('textbox', { name: 'Message' });
    await box.fill('first line');
    await box.press('Shift+Enter');
    await box.type('second line');
    expect(await box.inputValue()).toBe('first line\nsecond line');
    await box.press('Enter');
    await expect.poll(() => page.getByRole('article', { name: 'Your message' }).innerText()).toContain('first line\nsecond line');
    expect(await box.inputValue()).toBe('');
    await page.close();
  }, 30_000);

  it('Stop ends the reply where it was', async () => {
    const page = await newPage();
    await page.goto(origin);
    const text = words(200, 's');
    await send(page, text);
    await expect.poll(async () => (await textOf(page)).length, { timeout: 10_000 }).toBeGreaterThan(20);
    await page.getByRole('button', { name: 'Stop' }).click();
    await lastReply(page).getByText('Stopped.').waitFor();
    const kept = await textOf(page);
    expect(kept.length).toBeLessThan(text.length);
    expect(text.startsWith(kept.trim())).toBe(true);
    await page.getByRole('button', { name: 'Send' }).waitFor();
    await page.close();
  }, 30_000);

  it('a reload in the middle of a reply resumes it, with no text twice', async () => {
    const page = await newPage();
    await page.goto(origin);
    const text = words(120, 'r');
    await send(page, text);
    await expect.poll(async () => (await textOf(page)).length, { timeout: 10_000 }).toBeGreaterThan(30);
    await page.reload();
    await expect.poll(() => isStreaming(page), { timeout: 10_000 }).toBe(true);
    expect(await watchPrefixes(page, text)).toBeGreaterThan(5);
    await page.close();
  }, 60_000);

  it('a dropped connection in the middle of a reply resumes it, with no text twice', async () => {
    const page = await newPage();
    // The page's WebSockets pass through here, so that the test can cut one as a network would.
    const sockets: WebSocketRoute[] = [];
    await page.routeWebSocket(/\/graphql$/, (socket) => {
      socket.connectToServer();
      sockets.push(socket);
    });
    await page.goto(origin);
    const text = words(300, 'd'); // 7.5 s: still streaming once the app has connected again
    await send(page, text);
    await expect.poll(async () => (await textOf(page)).length, { timeout: 10_000 }).toBeGreaterThan(30);
    await sockets.at(-1)!.close({ code: 4000, reason: 'cut by the test' });
    await expect.poll(() => sockets.length, { timeout: 15_000 }).toBe(2); // the app connected again
    expect(await isStreaming(page)).toBe(true);
    // What streams after the reconnection is checked as it is shown (at the end, the stored copy shows).
    expect(await watchPrefixes(page, text)).toBeGreaterThan(5);
    await page.close();
  }, 60_000);

  it('rename, archive, and delete with undo, from the conversation\'s actions', async () => {
    const page = await chatWithReply('to be renamed');
    const item = () => sidebar(page).getByRole('listitem').filter({ has: page.getByRole('link', { name: /to be renamed|Renamed chat/ }) });
    await item().getByRole('button', { name: 'Conversation actions' }).click();
    await shoot(page, 'actions');
    await page.getByRole('menuitem', { name: 'Rename' }).click();
    const dialog = page.getByRole('dialog', { name: 'Rename conversation' });
    await dialog.getByRole('textbox', { name: 'Title' }).fill('Renamed chat');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => sidebar(page).getByRole('link', { name: /Renamed chat/ }).count()).toBe(1);
    expect(await page.getByRole('main').locator('header h1').innerText()).toBe('Renamed chat');

    await item().getByRole('button', { name: 'Conversation actions' }).click();
    await page.getByRole('menuitem', { name: 'Delete' }).click();
    await page.getByRole('dialog', { name: 'Delete this conversation?' }).getByRole('button', { name: 'Delete' }).click();
    await expect.poll(() => sidebar(page).getByRole('link', { name: /Renamed chat/ }).count()).toBe(0);
    await page.getByRole('status').getByRole('button', { name: 'Undo' }).click();
    await expect.poll(() => sidebar(page).getByRole('link', { name: /Renamed chat/ }).count()).toBe(1);

    await item().getByRole('button', { name: 'Conversation actions' }).click();
    await page.getByRole('menuitem', { name: 'Archive' }).click();
    await expect.poll(() => sidebar(page).getByRole('link', { name: /Renamed chat/ }).count()).toBe(0);
    await page.close();
  }, 60_000);

  it('two tabs stay in sync: a chat started in one appears in the other, with its title, and its new messages and replies follow there', async () => {
    const [a, b] = [await newPage(), await newPage()];
    await Promise.all([a.goto(origin), b.goto(origin)]);
    await sidebar(b).getByRole('button', { name: 'New chat' }).waitFor();
    await new Promise((resolve) => setTimeout(resolve, 300)); // b's subscription is open
    await send(a, 'seen from another tab');
    await expect.poll(() => sidebar(b).getByRole('link', { name: /seen from another tab/ }).count(), { timeout: 15_000 }).toBe(1);
    await sidebar(b).getByRole('link', { name: /seen from another tab/ }).click();
    await expect.poll(() => textOf(b), { timeout: 15_000 }).toBe('seen from another tab');
    // A message sent in a shows in b's open chat, reply included.
    await send(a, 'and a second one');
    await expect.poll(() => textOf(b), { timeout: 15_000 }).toBe('and a second one');
    await a.close();
    await b.close();
  }, 60_000);

  it('a version switched in one tab is shown in the other, and a message sent there goes on from it', async () => {
    const a = await chatWithReply('first version');
    await lastReply(a).getByRole('button', { name: 'Regenerate' }).click();
    await expect.poll(() => lastReply(a).innerText()).toContain('2 / 2');
    await expect.poll(() => isStreaming(a)).toBe(false);
    const b = await newPage();
    await b.goto(a.url());
    await expect.poll(() => lastReply(b).innerText()).toContain('2 / 2');
    await new Promise((resolve) => setTimeout(resolve, 300)); // b's subscription is open
    await lastReply(a).getByRole('button', { name: 'Previous version' }).click();
    await expect.poll(() => lastReply(b).innerText()).toContain('1 / 2');
    await send(b, 'after the first version');
    await expect.poll(() => textOf(b), { timeout: 15_000 }).toBe('after the first version');
    await expect.poll(() => textOf(a), { timeout: 15_000 }).toBe('after the first version');
    expect(await a.getByRole('article', { name: 'Assistant message' }).count()).toBe(2);
    await a.close();
    await b.close();
  }, 60_000);

  it('regenerate and edit add versions; Previous and Next version switch between them', async () => {
    const page = await chatWithReply('version one');
    await lastReply(page).getByRole('button', { name: 'Regenerate' }).click();
    await expect.poll(() => lastReply(page).innerText(), { timeout: 15_000 }).toContain('2 / 2');
    await expect.poll(() => isStreaming(page)).toBe(false);
    await lastReply(page).getByRole('button', { name: 'Previous version' }).click();
    await expect.poll(() => lastReply(page).innerText()).toContain('1 / 2');

    const mine = page.getByRole('article', { name: 'Your message' }).last();
    await mine.getByRole('button', { name: 'Edit' }).click();
    await mine.getByRole('textbox', { name: 'Edit message' }).fill('version two');
    await mine.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => textOf(page), { timeout: 15_000 }).toBe('version two');
    await expect.poll(() => mine.innerText()).toContain('2 / 2');
    await mine.getByRole('button', { name: 'Previous version' }).click();
    await expect.poll(() => mine.innerText()).toContain('version one');
    await expect.poll(() => textOf(page)).toBe('version one');
    expect(await lastReply(page).innerText()).toContain('2 / 2'); // the newest reply below it (the regenerated one)
    await mine.getByRole('button', { name: 'Next version' }).click();
    await expect.poll(() => textOf(page)).toBe('version two');
    await shoot(page, 'versions');
    await page.close();
  }, 60_000);

  it('a tool-call loop with echo: the call folded, its result submitted, the answer; reasoning folded away', async () => {
    const tools = [{ name: 'weather', description: 'Weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } } } }];
    const { createConversation } = await t.gql(`mutation($tools: [ToolInput!]) { createConversation(input: { title: "Agent", tools: $tools }) { conversation { id } } }`, { tools }, null);
    const page = await newPage();
    await page.goto(`${origin}/c/${encodeURIComponent(createConversation.conversation.id)}`);
    await send(page, '/call weather {"city": "Lima"}');
    const call = lastReply(page).getByText('Tool call: weather');
    await call.waitFor({ timeout: 15_000 });
    await call.click();
    expect(await lastReply(page).locator('pre').innerText()).toBe('{"city": "Lima"}');
    const form = page.getByRole('form', { name: 'Tool results' });
    await form.getByRole('textbox', { name: 'Result of weather' }).fill('25 C');
    await form.getByRole('button', { name: 'Submit results' }).click();
    await expect.poll(() => textOf(page), { timeout: 15_000 }).toBe('weather returned: 25 C');
    expect(await page.getByRole('article', { name: 'Tool result' }).count()).toBe(1);

    await send(page, '/think about tapirs');
    await expect.poll(() => textOf(page), { timeout: 15_000 }).toBe('about tapirs');
    const reasoning = lastReply(page).locator('details.reasoning');
    expect(await reasoning.getAttribute('open')).toBeNull();
    await reasoning.getByText('Reasoning').click();
    expect(await reasoning.innerText()).toContain('Thinking about: about tapirs');
    await shoot(page, 'tools');
    await page.close();
  }, 60_000);

  it('the model picker lists the models; a reply that fails says so in place', async () => {
    const page = await newPage();
    await page.goto(origin);
    const picker = page.getByRole('combobox', { name: 'Model' });
    await expect.poll(() => picker.locator('option').allInnerTexts()).toEqual(['echo (builtin)', 'broken (fake)']);
    await picker.selectOption({ label: 'broken (fake)' });
    await send(page, 'this will fail');
    await lastReply(page).getByRole('alert').filter({ hasText: 'The reply failed' }).waitFor({ timeout: 15_000 });
    expect(await page.getByRole('combobox', { name: 'Model' }).inputValue()).toBe('fake:broken');
    await page.close();
  }, 30_000);

  it('on a phone, Toggle sidebar shows and hides the conversations', async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const page = await newPage(phone);
    await page.goto(origin);
    await page.getByRole('textbox', { name: 'Message' }).waitFor();
    expect(await sidebar(page).isVisible()).toBe(false);
    await page.getByRole('button', { name: 'Toggle sidebar' }).click();
    await sidebar(page).waitFor({ state: 'visible' });
    await shoot(page, 'phone');
    await sidebar(page).getByRole('link').first().click();
    await sidebar(page).waitFor({ state: 'hidden' });
    await phone.close();
  }, 30_000);

  it('a link whose escape is broken (cut short) opens a new chat', async () => {
    const page = await newPage();
    await page.goto(`${origin}/c/%E0%A4%A`);
    await page.getByRole('textbox', { name: 'Message' }).waitFor();
    await page.close();
  });

  it('nothing in the console, nothing fetched from elsewhere', () => {
    expect(consoleErrors).toEqual([]);
    expect(outsideRequests).toEqual([]);
  });
});

describe('with AUTH_JWT_SECRET', () => {
  it('asks for a token, keeps it for the tab, and works as that viewer; a rate limit is told in place', async () => {
    const secured = await startTestApp({ ECHO_DELAY_MS: '0', RATE_LIMIT_GENERATIONS_PER_MINUTE: '1' });
    const securedServer = await secured.listen();
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(new URL(securedServer.url).origin);
      await page.getByRole('textbox', { name: 'Token' }).fill('not-a-token');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByText('That token was refused.').waitFor();
      await page.getByRole('textbox', { name: 'Token' }).fill(await signToken({ sub: 'browser-user' }));
      await page.getByRole('button', { name: 'Sign in' }).click();
      await send(page, 'signed in');
      await expect.poll(() => textOf(page), { timeout: 15_000 }).toBe('signed in');
      const { conversations } = await secured.gql('{ conversations { edges { node { title } } } }', {}, { userId: 'browser-user', orgId: null, token: await signToken({ sub: 'browser-user' }) });
      expect(conversations.edges.map((e: any) => e.node.title)).toEqual(['signed in']);
      expect(await page.evaluate(() => sessionStorage.getItem('chat.token'))).toBeTruthy();
      // A second reply within the minute is over this server's limit: said where the message was typed, and kept.
      await send(page, 'one too many');
      await page.getByRole('alert').filter({ hasText: 'Too many requests' }).waitFor();
      expect(await page.getByRole('textbox', { name: 'Message' }).inputValue()).toBe('one too many');
    } finally {
      await context.close();
      await secured.close();
    }
  }, 60_000);
});

import { afterAll, beforeAll, expect, it } from 'vitest';
import { pino } from 'pino';
import { createConversation, expectErrorCode, startTestApp, type TestApp } from './helpers.ts';
import { chargeTime, createRateLimiter } from '../src/rate-limit.ts';

let t: TestApp;
beforeAll(async () => (t = await startTestApp({ RATE_LIMIT_REQUESTS_PER_MINUTE: '5', RATE_LIMIT_GENERATIONS_PER_MINUTE: '2' })));
afterAll(() => t.close());

it('answers HTTP 429 RATE_LIMITED with Retry-After past the per-viewer request limit; others are not affected', async () => {
  const viewer = await t.viewer();
  for (let i = 0; i < 5; i++) expect((await t.request('{ viewer { userId } }', {}, viewer)).status).toBe(200);
  const response = await t.app.yoga.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${viewer.token}` },
    body: JSON.stringify({ query: '{ viewer { userId } }' }),
  });
  expect(response.status).toBe(429);
  expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
  expectErrorCode((await response.json()) as any, 'RATE_LIMITED');
  expect((await t.request('{ viewer { userId } }', {}, await t.viewer())).status).toBe(200);
});

it('limits generations started per viewer, storing nothing for a refused one', async () => {
  const viewer = await t.viewer();
  const c = await createConversation(t, viewer, { model: 'builtin:echo' });
  const send = () => t.request(`mutation($c: ID!) { sendMessage(input: { conversationId: $c, content: "hi", onActiveGeneration: INTERRUPT }) { assistantMessage { id } } }`, { c: c.id }, viewer);
  expect((await send()).body.errors).toBeUndefined();
  expect((await send()).body.errors).toBeUndefined();
  const third = await send();
  expect(third.status).toBe(429);
  expectErrorCode(third.body, 'RATE_LIMITED');
});

it('counts each tool result a submit stores as a request, storing nothing past the limit', async () => {
  const submitCalls = async (calls: number) => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer, { model: 'builtin:echo' }); // 1
    const toolCalls = Array.from({ length: calls }, (_, i) => ({ id: `c${i}`, type: 'function', function: { name: 'f', arguments: '{}' } }));
    const append = `mutation($input: AppendMessageInput!) { appendMessage(input: $input) { message { id } } }`;
    const { id } = (await t.gql(append, { input: { conversationId: c.id, role: 'ASSISTANT', content: '', toolCalls } }, viewer)).appendMessage.message; // 2
    const results = toolCalls.map((call) => ({ toolCallId: call.id, content: 'ok' }));
    const submit = `mutation($input: SubmitToolResultsInput!) { submitToolResults(input: $input) { toolMessages { id } } }`;
    const { body } = await t.request(submit, { input: { messageId: id, results, generate: false } }, viewer);
    const stored = await t.app.services.prisma.message.count({ where: { conversationId: Buffer.from(c.id, 'base64').toString().split(':')[1] } });
    return { body, stored };
  };
  const within = await submitCalls(3); // 2 + 3 requests: the limit
  expect(within.body.errors).toBeUndefined();
  expect(within.stored).toBe(4);
  const past = await submitCalls(4); // 2 + 4
  expectErrorCode(past.body, 'RATE_LIMITED');
  expect(past.stored).toBe(1);
});

it('charges work by the time it took after it ran: the answer stands, the next requests pay', async () => {
  const limiter = createRateLimiter({ requestsPerMinute: 10, generationsPerMinute: 0 }, { log: pino({ level: 'silent' }) });
  const viewer = { userId: `timed-${Date.now()}`, orgId: null };
  await chargeTime(limiter, viewer, 4.9, 5); // under one request: nothing
  await limiter.request(viewer, 9);
  await chargeTime(limiter, viewer, 12, 5); // two requests past the limit: not thrown here…
  await expect(limiter.request(viewer)).rejects.toMatchObject({ extensions: { code: 'RATE_LIMITED' } }); // …but the next one is refused
  const other = { userId: `untimed-${Date.now()}`, orgId: null };
  await limiter.request(other, 10); // a viewer that charged nothing has its whole minute
});

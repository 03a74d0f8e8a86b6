// OpenTelemetry: with an exporter configured, a span per GraphQL operation, with the database statements
// and the model provider call beneath it. (A file of its own: the tracer provider is global to a process.)
import { afterAll, beforeAll, expect, it } from 'vitest';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { createConversation, startTestApp, subscribe, waitForMessageStatus, wsClient, type TestApp } from './helpers.ts';

const exporter = new InMemorySpanExporter();
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ ECHO_DELAY_MS: '0' }, { spanExporter: exporter });
});
afterAll(() => t.close());

type Span = ReturnType<InMemorySpanExporter['getFinishedSpans']>[number];

/** The spans of the operation named `name` (its own first), by their parents: those of its trace beneath it. */
function operationSpans(name: string): { operation: Span; beneath: Span[] } {
  const spans = exporter.getFinishedSpans();
  const operation = spans.find((span) => span.name.includes(name));
  expect(operation, spans.map((s) => s.name).join(', ')).toBeDefined();
  const inTrace = spans.filter((span) => span.spanContext().traceId === operation!.spanContext().traceId);
  const descends = (span: Span): boolean => {
    for (let parent = span.parentSpanContext?.spanId; parent; ) {
      if (parent === operation!.spanContext().spanId) return true;
      parent = inTrace.find((s) => s.spanContext().spanId === parent)?.parentSpanContext?.spanId;
    }
    return false;
  };
  return { operation: operation!, beneath: inTrace.filter(descends) };
}

function expectTurnBeneath(name: string) {
  const { beneath } = operationSpans(name);
  const provider = beneath.find((span) => span.name === 'llm.stream');
  expect(provider, beneath.map((s) => s.name).join(', ')).toBeDefined();
  expect(provider!.attributes).toMatchObject({ 'gen_ai.request.model': 'builtin:echo', 'chat.outcome': 'COMPLETED' });
  expect(beneath.filter((span) => span.name.startsWith('prisma:')).length, beneath.map((s) => s.name).join(', ')).toBeGreaterThan(0);
}

it('traces an operation with its statements and the provider call beneath it', async () => {
  const viewer = await t.viewer();
  const c = await createConversation(t, viewer, { model: 'builtin:echo' });
  exporter.reset();
  const { sendMessage } = await t.gql(`mutation Send($c: ID!) { sendMessage(input: { conversationId: $c, content: "trace me" }) { assistantMessage { id } } }`, { c: c.id }, viewer);
  await waitForMessageStatus((q, v) => t.gql(q, v, viewer), sendMessage.assistantMessage.id, 'COMPLETED');
  await new Promise((resolve) => setTimeout(resolve, 100)); // the provider span ends just after the final write
  expectTurnBeneath('Send');
});

it('traces a subscription alike (its events run compiled): the turn `chat` starts beneath its span', async () => {
  const viewer = await t.viewer();
  const c = await createConversation(t, viewer, { model: 'builtin:echo' });
  const server = await t.listen();
  const client = wsClient(server, viewer);
  exporter.reset();
  await subscribe(client, `subscription Chat($input: SendMessageInput!) { chat(input: $input) { __typename } }`, { input: { conversationId: c.id, content: 'trace me too' } }).all();
  await client.dispose();
  await new Promise((resolve) => setTimeout(resolve, 100));
  expectTurnBeneath('Chat');
});

it("keeps a trace's names and values short, whatever a client sends in them", async () => {
  const viewer = await t.viewer();
  exporter.reset();
  await t.gql(`query Long${'x'.repeat(20_000)} { conversations(first: 1) { totalCount } }`, {}, viewer);
  const spans = exporter.getFinishedSpans();
  const operation = spans.find((s) => s.name.includes('Longxxx'));
  expect(operation, spans.map((s) => s.name.slice(0, 40)).join(', ')).toBeDefined();
  expect(operation!.attributes['graphql.execute.operationName']).toHaveLength(4096);
  for (const span of spans) {
    expect(span.name.length).toBeLessThanOrEqual(4096);
    for (const value of Object.values(span.attributes)) expect(String(value).length).toBeLessThanOrEqual(4096);
  }
});

// OpenTelemetry: with an exporter configured, a span per GraphQL operation, with the database statements
// and the model provider call beneath it. (A file of its own: the tracer provider is global to a process.)
import { afterAll, beforeAll, expect, it } from 'vitest';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { createConversation, startTestApp, waitForMessageStatus, type TestApp } from './helpers.ts';

const exporter = new InMemorySpanExporter();
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ ECHO_DELAY_MS: '0' }, { spanExporter: exporter });
});
afterAll(() => t.close());

it('traces an operation with its statements and the provider call beneath it', async () => {
  const viewer = await t.viewer();
  const c = await createConversation(t, viewer, { model: 'builtin:echo' });
  exporter.reset();
  const { sendMessage } = await t.gql(`mutation Send($c: ID!) { sendMessage(input: { conversationId: $c, content: "trace me" }) { assistantMessage { id } } }`, { c: c.id }, viewer);
  await waitForMessageStatus((q, v) => t.gql(q, v, viewer), sendMessage.assistantMessage.id, 'COMPLETED');
  await new Promise((resolve) => setTimeout(resolve, 100)); // the provider span ends just after the final write

  const spans = exporter.getFinishedSpans();
  const operation = spans.find((span) => span.name.includes('Send'));
  expect(operation, spans.map((s) => s.name).join(', ')).toBeDefined();
  const traceId = operation!.spanContext().traceId;
  const inTrace = spans.filter((span) => span.spanContext().traceId === traceId);
  const parentOf = (span: (typeof spans)[number]) => span.parentSpanContext?.spanId;
  const descendsFromOperation = (span: (typeof spans)[number]): boolean => {
    for (let parent = parentOf(span); parent; ) {
      if (parent === operation!.spanContext().spanId) return true;
      parent = inTrace.find((s) => s.spanContext().spanId === parent)?.parentSpanContext?.spanId;
    }
    return false;
  };
  const provider = inTrace.find((span) => span.name === 'llm.stream');
  expect(provider, inTrace.map((s) => s.name).join(', ')).toBeDefined();
  expect(provider!.attributes).toMatchObject({ 'gen_ai.request.model': 'builtin:echo', 'chat.outcome': 'COMPLETED' });
  expect(descendsFromOperation(provider!)).toBe(true);
  const statements = inTrace.filter((span) => span.name.startsWith('prisma:'));
  expect(statements.length, inTrace.map((s) => s.name).join(', ')).toBeGreaterThan(0);
  expect(statements.every(descendsFromOperation)).toBe(true);
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

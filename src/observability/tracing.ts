// OpenTelemetry traces, when OTEL_EXPORTER_OTLP_ENDPOINT is set (or a test hands in an exporter): a span
// per GraphQL operation (envelop's plugin) with the database statements (Prisma's instrumentation) and the
// model provider call (the runner's own span) beneath. The SDK is loaded only then: a server without
// tracing holds none of it.
import { context, trace, type TracerProvider } from '@opentelemetry/api';
import type { SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Plugin } from 'graphql-yoga';
import { cutText } from '../text-cut.ts';

/**
 * `plugins`: the operation's span, and each operation run inside it. `subscribeWithinSpan`: the subscribe function
 * run inside it again, from after the plugins that replace that function (src/yoga.ts).
 */
export type Tracing = { provider: TracerProvider; plugins: Plugin[]; subscribeWithinSpan: Plugin; shutdown(): Promise<void> };

/** The longest attribute value or span name kept in a trace. */
export const MAX_TRACED_CHARS = 4096;

/** Cuts a span's name as it starts (a span's attributes are cut by the provider's limits, its name by none). */
const namesCut: SpanProcessor = {
  onStart(span) {
    if (span.name.length > MAX_TRACED_CHARS) span.updateName(cutText(span.name, MAX_TRACED_CHARS));
  },
  onEnd() {},
  forceFlush: async () => {},
  shutdown: async () => {},
};

/** The tracer the project's own spans use; a no-op one unless tracing has started. */
export const tracer = () => trace.getTracer('chat-graphql-api');

export async function startTracing({ endpoint, serviceName }: { endpoint?: string; serviceName: string }, exporter?: SpanExporter): Promise<Tracing | null> {
  if (!endpoint && !exporter) return null;
  const [{ NodeTracerProvider, BatchSpanProcessor, SimpleSpanProcessor }, { OTLPTraceExporter }, { resourceFromAttributes }, { registerInstrumentations }, { PrismaInstrumentation }, { useOpenTelemetry, getCurrentOtelContext }] =
    await Promise.all([
      import('@opentelemetry/sdk-trace-node'),
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/resources'),
      import('@opentelemetry/instrumentation'),
      import('@prisma/instrumentation'),
      import('@envelop/opentelemetry'),
    ]);
  const processor = exporter ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(new OTLPTraceExporter({ url: `${endpoint!.replace(/\/$/, '')}/v1/traces` }));
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName }),
    // Spans wait for export, up to 2,048 of them, with what clients sent in them (the document, the
    // operation's name): each value and name is cut, so that what waits stays small.
    spanLimits: { attributeValueLengthLimit: MAX_TRACED_CHARS },
    spanProcessors: [namesCut, processor],
  });
  provider.register(); // the global provider, and AsyncLocalStorage to carry the active span
  const unregister = registerInstrumentations({ tracerProvider: provider, instrumentations: [new PrismaInstrumentation()] });

  // envelop's plugin keeps each operation's span beside its GraphQL context, and runs the operation inside it,
  // which makes it the parent of everything the operation does (statements, the provider call). A compiled
  // subscription replaces the subscribe function it wrapped (src/compiled/subscription-events.ts): this wraps
  // it again, from after that plugin.
  const subscriptionsWithinSpan: Plugin = {
    onSubscribe({ subscribeFn, setSubscribeFn }) {
      setSubscribeFn((args) => context.with(getCurrentOtelContext(args.contextValue), () => subscribeFn(args)));
    },
  };
  return {
    provider,
    plugins: [useOpenTelemetry({ resolvers: false, variables: false, result: false, document: true }, provider) as Plugin],
    subscribeWithinSpan: subscriptionsWithinSpan,
    async shutdown() {
      unregister();
      await provider.shutdown();
    },
  };
}

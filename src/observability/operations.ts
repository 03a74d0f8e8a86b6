// Every GraphQL operation, on every transport, observed once: a request log line (name, type, duration,
// viewer, error codes; the request id comes with every line of the request, see logger.ts) and the
// operation metrics. Subscriptions are logged when they end, with how long they lasted; an HTTP request
// refused before its operation ran, with its error codes.
import { getOperationAST, Kind, type DocumentNode, type ExecutionResult } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { Viewer } from '../auth.ts';
import type { Logger } from '../logger.ts';
import { maskError, withContractCode } from '../errors.ts';
import type { Metrics } from './metrics.ts';
import { WatchedStream, type StreamWatcher } from '../watched-stream.ts';
import { cutText } from '../text-cut.ts';

type Described = { type: string; field: string; name: string | null };

function describe(document: DocumentNode, operationName: string | null | undefined): Described {
  const operation = getOperationAST(document, operationName);
  const first = operation?.selectionSet.selections.find((selection) => selection.kind === Kind.FIELD);
  const name = operationName ?? operation?.name?.value ?? null;
  return {
    type: operation?.operation ?? 'unknown',
    // A schema field (bounded), never the client's own names: it labels metrics.
    field: first?.kind === Kind.FIELD ? first.name.value : 'other',
    name: name === null ? null : cutText(name, 100),
  };
}

/** The codes of a result's errors as clients get them (execution results are not masked yet). */
export function errorCodes(result: ExecutionResult | undefined): string[] {
  return (result?.errors ?? []).map((error) => String(withContractCode(maskError(error, '')).extensions.code));
}

const DOOR_REFUSALS = new Set(['UNAUTHENTICATED', 'RATE_LIMITED']);

const ms = (since: number) => Math.round((performance.now() - since) * 10) / 10;

export function useOperationObservation(metrics: Metrics, log: Logger): Plugin {
  const viewerOf = (context: unknown) => {
    const viewer = (context as { viewer?: Viewer }).viewer;
    return viewer ? { userId: viewer.userId, orgId: viewer.orgId } : {};
  };
  // HTTP requests whose operation ran (and logged its line); the others were refused before it could.
  const ran = new WeakSet<Request>();
  const running = (context: unknown) => {
    const request = (context as { request?: Request }).request;
    if (request) ran.add(request);
  };
  return {
    onResultProcess({ request, result }) {
      if (ran.has(request) || isAsyncIterable(result)) return;
      const errors = (Array.isArray(result) ? result : [result]).flatMap((one) => errorCodes(one as ExecutionResult));
      // Refused at the door (no valid token, past the rate limit), as a POST is before yoga reads it: a flood
      // of them would fill the log.
      if (errors.every((code) => DOOR_REFUSALS.has(code))) return;
      log.info({ errors }, 'request refused'); // unparsable, invalid, too costly…
    },
    onExecute({ args }) {
      const started = performance.now();
      const operation = describe(args.document, args.operationName);
      running(args.contextValue);
      return {
        onExecuteDone({ result }) {
          metrics.operation(operation.type, operation.field, (performance.now() - started) / 1000);
          const errors = isAsyncIterable(result) ? [] : errorCodes(result);
          log.info({ operation: operation.name, type: operation.type, field: operation.field, ms: ms(started), ...viewerOf(args.contextValue), errors }, 'operation');
        },
      };
    },
    onSubscribe({ args }) {
      const started = performance.now();
      const operation = describe(args.document, args.operationName);
      running(args.contextValue);
      metrics.operation(operation.type, operation.field, null);
      const fields = { operation: operation.name, type: operation.type, field: operation.field, ...viewerOf(args.contextValue) };
      return {
        onSubscribeResult({ result, setResult }) {
          if (!isAsyncIterable(result)) return void log.info({ ...fields, ms: ms(started), errors: errorCodes(result) }, 'operation');
          metrics.subscriptionOpened();
          setResult(new WatchedStream(result, new ObservedSubscription(metrics, log, fields, started)));
        },
      };
    },
  };
}

/** A running subscription's error codes, logged with how long it lasted when it ends. */
class ObservedSubscription implements StreamWatcher<ExecutionResult> {
  #codes: Set<string> | null = null; // most subscriptions never see an error

  constructor(
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly fields: object,
    private readonly started: number,
  ) {}

  event(event: ExecutionResult): void {
    if (event.errors) for (const code of errorCodes(event)) (this.#codes ??= new Set()).add(code);
  }

  end(): void {
    this.metrics.subscriptionClosed();
    this.log.info({ ...this.fields, ms: ms(this.started), errors: [...(this.#codes ?? [])] }, 'subscription ended');
  }
}

/** Errors of HTTP responses by code (WebSocket ones are counted by the WebSocket server). */
export function useErrorMetrics(metrics: Metrics): Plugin {
  return {
    onResultProcess({ result }) {
      if (isAsyncIterable(result)) return;
      for (const one of Array.isArray(result) ? result : [result]) metrics.errors(errorCodes(one as ExecutionResult));
    },
  };
}

// The request a piece of work belongs to, carried through its async calls (AsyncLocalStorage): every log
// line written while serving a request names it, without passing a logger down every call.
import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

export type RequestContext = { requestId: string };

const storage = new AsyncLocalStorage<RequestContext>();

export const currentRequest = (): RequestContext | undefined => storage.getStore();

export function withRequest<T>(context: RequestContext, work: () => T): T {
  return storage.run(context, work);
}

/** The process's own context, as it was when this module loaded: no request, no trace. */
const processScope = new AsyncResource('process');

/**
 * Runs `start` in no request's context (nor trace): for what outlives the request that happened to start it
 * and serves every other (a timer all generations share, a thread all replies use). Node carries a context
 * into every timer, socket and thread made in it, so such work would otherwise run, log and be traced as
 * that first request for the rest of its life.
 */
export function outsideAnyRequest<T>(start: () => T): T {
  return processScope.runInAsyncScope(start);
}

/** The client's X-Request-Id when it is a plausible one (so a proxy's id carries through), else a new one. */
export function requestIdFrom(header: string | string[] | null | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  return value && /^[\w.:-]{1,64}$/.test(value) ? value : randomUUID();
}

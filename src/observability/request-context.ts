// The request a piece of work belongs to, carried through its async calls (AsyncLocalStorage): every log
// line written while serving a request names it, without passing a logger down every call.
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

export type RequestContext = { requestId: string };

const storage = new AsyncLocalStorage<RequestContext>();

export const currentRequest = (): RequestContext | undefined => storage.getStore();

export function withRequest<T>(context: RequestContext, work: () => T): T {
  return storage.run(context, work);
}

/** The client's X-Request-Id when it is a plausible one (so a proxy's id carries through), else a new one. */
export function requestIdFrom(header: string | string[] | null | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  return value && /^[\w.:-]{1,64}$/.test(value) ? value : randomUUID();
}

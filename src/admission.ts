// Who sends a GraphQL request over HTTP, and whether their rate limit allows it, decided before its body is
// read. A body is JSON of up to 2 MiB, and parsing one may hold the event loop: a million nested brackets
// took V8 0.86 s, 150,000 keys 0.13 s. Parsed first, bodies without a token, or past their sender's limit,
// let anyone keep the server busy; now they are answered from their headers.
import type { IncomingMessage } from 'node:http';
import type { Authenticate, Viewer } from './auth.ts';
import type { RateLimiter } from './rate-limit.ts';

/** A request counts once more against its viewer's rate limit for each 64 KiB of its body: parsing it is work. */
export const BODY_BYTES_PER_REQUEST = 64 * 1024;

export function requestsForBody(bytes: number): number {
  return 1 + Math.floor(Math.max(0, bytes) / BODY_BYTES_PER_REQUEST);
}

/** The viewer of a request, counted against their rate limit; throws the GraphQL error to answer with (401, 429). */
export type Admit = (req: IncomingMessage) => Promise<Viewer>;

export function createAdmission({ authenticate, rateLimiter }: { authenticate: Authenticate; rateLimiter: RateLimiter }): Admit {
  return async (req) => {
    const viewer = await authenticate(req.headers.authorization);
    await rateLimiter.request(viewer, requestsForBody(Number(req.headers['content-length'] ?? 0)));
    return viewer;
  };
}

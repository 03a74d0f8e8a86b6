// Bearer token → Viewer. HS256 JWTs signed with AUTH_JWT_SECRET; the `dev` user only outside production.
import { jwtVerify, errors as joseErrors } from 'jose';
import type { Config } from './config.ts';
import { unauthenticated } from './errors.ts';
import { stringProblem } from './input-guard.ts';

export type Viewer = {
  userId: string;
  orgId: string | null;
  /** When the token that names this viewer expires (epoch ms); WebSockets close then. */
  expiresAt?: number;
};

export const DEV_VIEWER: Viewer = Object.freeze({ userId: 'dev', orgId: null });

export type Authenticate = (authorization: string | null | undefined) => Promise<Viewer>;

/** Tokens verified lately, kept for a minute at most (never past their expiry): a client sends the same one each request. */
const VERIFIED_TOKENS = 10_000;
const VERIFIED_FOR_MS = 60_000;

export function createAuthenticator(config: Pick<Config, 'jwtSecret' | 'env'>): Authenticate {
  const secret = config.jwtSecret ? new TextEncoder().encode(config.jwtSecret) : undefined;
  const verified = new Map<string, { viewer: Viewer; until: number }>();

  return async (authorization) => {
    const token = bearerToken(authorization);
    if (!secret) {
      if (token !== null) throw unauthenticated('This server has no AUTH_JWT_SECRET: tokens cannot be verified; send none to act as the dev user');
      if (config.env === 'production') throw unauthenticated('Authentication is required');
      return DEV_VIEWER;
    }
    if (token === null) throw unauthenticated('Missing bearer token');
    const known = verified.get(token);
    if (known && Date.now() < known.until) return known.viewer;
    verified.delete(token);
    const viewer = await verify(token, secret);
    if (verified.size >= VERIFIED_TOKENS) verified.delete(verified.keys().next().value!); // the oldest
    verified.set(token, { viewer, until: Math.min(Date.now() + VERIFIED_FOR_MS, viewer.expiresAt ?? Infinity) });
    return viewer;
  };
}

/**
 * An owner is stored as text, which holds no NUL (every write of such an owner failed) and turns a lone
 * surrogate into U+FFFD (subjects that differ only there would share one owner's data).
 */
const isStorable = (claim: string) => stringProblem(claim) === null;

/** The viewer a token names, once its signature (HS256 alone), expiry and claims check out. */
async function verify(token: string, secret: Uint8Array): Promise<Viewer> {
  try {
    // Only HS256: an `alg: none` or asymmetric token is rejected before its signature is looked at.
    const { payload } = await jwtVerify(token, secret, { algorithms: ['HS256'] });
    if (typeof payload.sub !== 'string' || payload.sub === '') throw unauthenticated('The token has no subject (sub)');
    if (!isStorable(payload.sub)) throw unauthenticated('The token has an invalid subject (sub)');
    const org = payload.org;
    if (org !== undefined && org !== null && (typeof org !== 'string' || org === '' || !isStorable(org))) throw unauthenticated('The token has an invalid org claim');
    return { userId: payload.sub, orgId: org ?? null, ...(typeof payload.exp === 'number' && { expiresAt: payload.exp * 1000 }) };
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) throw unauthenticated('The token has expired');
    if (error instanceof joseErrors.JOSEError) throw unauthenticated('Invalid token');
    throw error;
  }
}

/** `Bearer <token>` → token; nothing → null; anything else is a malformed credential. */
function bearerToken(authorization: string | null | undefined): string | null {
  if (authorization === undefined || authorization === null || authorization.trim() === '') return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization.trim());
  if (!match) throw unauthenticated('The Authorization header must be "Bearer <token>"');
  return match[1];
}

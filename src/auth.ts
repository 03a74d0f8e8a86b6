// Bearer token → Viewer. HS256 JWTs signed with AUTH_JWT_SECRET; the `dev` user only outside production.
import { jwtVerify, errors as joseErrors } from 'jose';
import type { Config } from './config.ts';
import { unauthenticated } from './errors.ts';

export type Viewer = {
  userId: string;
  orgId: string | null;
  /** When the token that names this viewer expires (epoch ms); WebSockets close then. */
  expiresAt?: number;
};

export const DEV_VIEWER: Viewer = Object.freeze({ userId: 'dev', orgId: null });

export type Authenticate = (authorization: string | null | undefined) => Promise<Viewer>;

export function createAuthenticator(config: Pick<Config, 'jwtSecret' | 'env'>): Authenticate {
  const secret = config.jwtSecret ? new TextEncoder().encode(config.jwtSecret) : undefined;

  return async (authorization) => {
    const token = bearerToken(authorization);
    if (!secret) {
      if (token !== null) throw unauthenticated('This server has no AUTH_JWT_SECRET: tokens cannot be verified; send none to act as the dev user');
      if (config.env === 'production') throw unauthenticated('Authentication is required');
      return DEV_VIEWER;
    }
    if (token === null) throw unauthenticated('Missing bearer token');
    try {
      // Only HS256: an `alg: none` or asymmetric token is rejected before its signature is looked at.
      const { payload } = await jwtVerify(token, secret, { algorithms: ['HS256'] });
      if (typeof payload.sub !== 'string' || payload.sub === '') throw unauthenticated('The token has no subject (sub)');
      const org = payload.org;
      if (org !== undefined && org !== null && (typeof org !== 'string' || org === '')) throw unauthenticated('The token has an invalid org claim');
      return { userId: payload.sub, orgId: org ?? null, ...(typeof payload.exp === 'number' && { expiresAt: payload.exp * 1000 }) };
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw unauthenticated('The token has expired');
      if (error instanceof joseErrors.JOSEError) throw unauthenticated('Invalid token');
      throw error;
    }
  };
}

/** `Bearer <token>` → token; nothing → null; anything else is a malformed credential. */
function bearerToken(authorization: string | null | undefined): string | null {
  if (authorization === undefined || authorization === null || authorization.trim() === '') return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization.trim());
  if (!match) throw unauthenticated('The Authorization header must be "Bearer <token>"');
  return match[1];
}

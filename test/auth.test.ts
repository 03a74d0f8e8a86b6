import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SignJWT, UnsecuredJWT } from 'jose';
import { createAuthenticator } from '../src/auth.ts';
import { expectErrorCode, JWT_SECRET, signToken, startTestApp, subscribe, wsClient, type TestApp } from './helpers.ts';

// Counts the signatures verified, so a test can tell a kept token from one verified again.
const verifications = vi.hoisted(() => ({ count: 0 }));
vi.mock('jose', async (importOriginal) => {
  const jose = await importOriginal<typeof import('jose')>();
  return { ...jose, jwtVerify: (...args: Parameters<typeof jose.jwtVerify>) => (verifications.count++, jose.jwtVerify(...args)) };
});

const VIEWER = '{ viewer { userId orgId } }';

describe('with AUTH_JWT_SECRET', () => {
  let t: TestApp;
  beforeAll(async () => (t = await startTestApp()));
  afterAll(() => t.close());

  it('reads the user and org from a valid token', async () => {
    const token = await signToken({ sub: 'alice', org: 'acme' });
    const { status, body } = await t.request(VIEWER, {}, { token });
    expect(status).toBe(200);
    expect(body.data).toEqual({ viewer: { userId: 'alice', orgId: 'acme' } });
    const noOrg = await t.request(VIEWER, {}, { token: await signToken({ sub: 'bob' }) });
    expect(noOrg.body.data).toEqual({ viewer: { userId: 'bob', orgId: null } });
  });

  const badTokens: [string, () => Promise<string | null>][] = [
    ['no token', async () => null],
    ['a bad signature', () => signToken({ sub: 'alice' }, { secret: 'another-secret-that-is-long' })],
    ['alg none', async () => new UnsecuredJWT({ sub: 'alice' }).setIssuedAt().setExpirationTime('1h').encode()],
    ['an expired token', () => signToken({ sub: 'alice' }, { expiresIn: '-1m' })],
    ['a token without sub', () => signToken({ org: 'acme' })],
    ['a token with an empty sub', () => signToken({ sub: '' })],
    ['a token of another algorithm (HS512)', () =>
      new SignJWT({ sub: 'alice' }).setProtectedHeader({ alg: 'HS512' }).setExpirationTime('1h').sign(new TextEncoder().encode(JWT_SECRET))],
    ['garbage', async () => 'not.a.jwt'],
    // An owner is stored as text, which holds no NUL and turns a lone surrogate into U+FFFD: such
    // subjects would fail every write, or share the data of another.
    ['a sub with a lone surrogate', () => signToken({ sub: 'alice\ud800' })],
    ['a sub with a NUL', () => signToken({ sub: 'alice\0' })],
    ['an org with a lone surrogate', () => signToken({ sub: 'alice', org: 'acme\udfff' })],
    ['an org with a NUL', () => signToken({ sub: 'alice', org: 'acme\0' })],
  ];

  it.each(badTokens)('answers HTTP 401 UNAUTHENTICATED to %s', async (_name, makeToken) => {
    const token = await makeToken();
    const { status, body } = await t.request(VIEWER, {}, token === null ? null : { token });
    expect(status).toBe(401);
    expectErrorCode(body, 'UNAUTHENTICATED');
    expect(body.data).toBeUndefined();
  });

  it('keeps a verified token no longer than it is valid, and a changed signature is checked anew', async () => {
    const token = await signToken({ sub: 'carol' }, { expiresIn: '2s' });
    expect((await t.request(VIEWER, {}, { token })).body.data).toEqual({ viewer: { userId: 'carol', orgId: null } });
    // The same claims with another signature: not the token verified a moment ago.
    const [header, payload] = token.split('.');
    const forged = `${header}.${payload}.${Buffer.from('x'.repeat(32)).toString('base64url')}`;
    expect((await t.request(VIEWER, {}, { token: forged })).status).toBe(401);
    await new Promise((resolve) => setTimeout(resolve, 3000 - (Date.now() % 1000))); // past its exp (whole seconds)
    const late = await t.request(VIEWER, {}, { token });
    expect(late.status).toBe(401);
    expectErrorCode(late.body, 'UNAUTHENTICATED');
  });

  it('answers 401 to an Authorization header that is not a bearer token', async () => {
    const response = await t.app.yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Basic YWxpY2U6c2VjcmV0' },
      body: JSON.stringify({ query: VIEWER }),
    });
    expect(response.status).toBe(401);
  });

  it('closes a WebSocket with a bad token (4403) and accepts a good one', async () => {
    const server = await t.listen();
    let closeCode = 0;
    const bad = wsClient(server, { userId: 'x', orgId: null, token: await signToken({ sub: 'x' }, { secret: 'wrong-secret-but-long-enough' }) }, { onClose: (code) => (closeCode = code) });
    const sub = subscribe(bad, 'subscription { conversationsChanged { type } }');
    await sub.next(1).catch(() => undefined);
    expect(sub.completed).toBe(true);
    expect([4401, 4403]).toContain(closeCode);
    await bad.dispose();

    const good = wsClient(server, await t.viewer());
    const ok = subscribe(good, `query { viewer { userId } }`);
    const [result] = await ok.next(1);
    expect(result.data.viewer.userId).toMatch(/^user-/);
    await good.dispose();
  });
});

describe('without AUTH_JWT_SECRET outside production', () => {
  let t: TestApp;
  beforeAll(async () => (t = await startTestApp({ AUTH_JWT_SECRET: '' })));
  afterAll(() => t.close());

  it('acts as the dev user when no token is sent', async () => {
    const { status, body } = await t.request(VIEWER);
    expect(status).toBe(200);
    expect(body.data).toEqual({ viewer: { userId: 'dev', orgId: null } });
  });

  it('refuses a token it cannot verify', async () => {
    const { status, body } = await t.request(VIEWER, {}, { token: await signToken({ sub: 'alice' }) });
    expect(status).toBe(401);
    expectErrorCode(body, 'UNAUTHENTICATED');
  });
});

describe('request size', () => {
  let t: TestApp;
  beforeAll(async () => (t = await startTestApp()));
  afterAll(() => t.close());

  it('refuses a body over 2 MiB (413) and a chunked body with no length (411), unread', async () => {
    const server = await t.listen();
    const viewer = await t.viewer();
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${viewer.token}` };
    const big = await fetch(server.url, { method: 'POST', headers, body: JSON.stringify({ query: `{ viewer { userId } } #${'x'.repeat(3 * 1024 * 1024)}` }) });
    expect(big.status).toBe(413);
    const chunks = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(JSON.stringify({ query: '{ viewer { userId } }' })));
        controller.close();
      },
    });
    const chunked = await fetch(server.url, { method: 'POST', headers, body: chunks, duplex: 'half' } as RequestInit);
    expect(chunked.status).toBe(411);
    const normal = await fetch(server.url, { method: 'POST', headers, body: JSON.stringify({ query: '{ viewer { userId } }' }) });
    expect(normal.status).toBe(200);
  });
});

describe('the verified tokens kept', () => {
  it('are 10,000 at most, the oldest dropped first', async () => {
    const authenticate = createAuthenticator({ jwtSecret: JWT_SECRET, env: 'test' });
    const tokens = await Promise.all(Array.from({ length: 10_001 }, (_, i) => signToken({ sub: `user-${i}` })));
    const start = verifications.count;
    const verified = () => verifications.count - start;
    expect(await authenticate(`Bearer ${tokens[0]}`)).toMatchObject({ userId: 'user-0' });
    await authenticate(`Bearer ${tokens[0]}`);
    expect(verified()).toBe(1); // kept
    for (const token of tokens.slice(1)) await authenticate(`Bearer ${token}`);
    expect(verified()).toBe(10_001);
    await authenticate(`Bearer ${tokens[10_000]}`); // the newest is still kept
    expect(verified()).toBe(10_001);
    expect(await authenticate(`Bearer ${tokens[0]}`)).toMatchObject({ userId: 'user-0' }); // the oldest was dropped: verified again
    expect(verified()).toBe(10_002);
  });
});

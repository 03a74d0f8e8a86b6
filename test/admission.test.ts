// A GraphQL request over HTTP is authenticated and counted against its sender's rate limit from its headers,
// before its body is read and parsed (src/admission.ts): parsing 2 MiB of hostile JSON takes most of a second.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp, type TestViewer } from './helpers.ts';
import type { RunningServer } from '../src/server.ts';
import { BODY_BYTES_PER_REQUEST } from '../src/admission.ts';

const ORIGIN = 'https://app.example.com';
let t: TestApp;
let server: RunningServer;
beforeAll(async () => {
  t = await startTestApp({ RATE_LIMIT_REQUESTS_PER_MINUTE: '60', CORS_ORIGINS: ORIGIN });
  server = await t.listen();
});
afterAll(() => t.close());

const post = (body: string, headers: Record<string, string> = {}) =>
  fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
const bearer = (viewer: TestViewer) => ({ authorization: `Bearer ${viewer.token}` });
const NOT_JSON = '{"query": "{ viewer { userId } }", "variables": [[[';

describe('before its body is read, a request', () => {
  it('without a valid token is answered 401, whatever its body, with CORS headers for an allowed page', async () => {
    for (const headers of [{}, { authorization: 'Bearer nope' }] as Record<string, string>[]) {
      const response = await post(NOT_JSON, { ...headers, origin: ORIGIN });
      expect(response.status).toBe(401);
      expect(response.headers.get('access-control-allow-origin')).toBe(ORIGIN);
      expect(response.headers.get('x-request-id')).toBeTruthy();
      const body = await response.json();
      expect(body.errors[0].extensions).toEqual({ code: 'UNAUTHENTICATED' });
    }
    // As yoga would answer it: the content type asked for, and counted in the error metrics.
    const errors = async () => Number(/^graphql_errors_total\{code="UNAUTHENTICATED"\} (\d+)/m.exec(await t.app.services.metrics.registry.metrics())?.[1] ?? 0);
    const before = await errors();
    const typed = await post(NOT_JSON, { accept: 'application/graphql-response+json' });
    expect(typed.headers.get('content-type')).toBe('application/graphql-response+json; charset=utf-8');
    expect(await errors()).toBe(before + 1);
    // A page of another origin is still refused as such.
    expect((await post(NOT_JSON, { origin: 'https://evil.example.com' })).status).toBe(403);
  });

  it('to any other path that ends in /graphql is not GraphQL: 404, its body unread', async () => {
    const origin = new URL(server.url).origin;
    const valid = JSON.stringify({ query: '{ __typename }' });
    for (const path of ['/graphql/', '/x/graphql', '/x/graphql/', '/graphql//', '/%2Fgraphql']) {
      for (const body of [NOT_JSON, valid]) {
        const response = await fetch(origin + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        expect([path, response.status, await response.text()]).toEqual([path, 404, 'Not found']);
      }
      expect((await fetch(origin + path)).status).toBe(404);
    }
  });

  it('costs its sender a request per 64 KiB of body, and past the limit is answered 429 unparsed', async () => {
    const viewer = await t.viewer();
    const query = '{ viewer { userId } }';
    const large = JSON.stringify({ query, variables: { padding: 'x'.repeat(4 * BODY_BYTES_PER_REQUEST) } }); // 5 requests each
    let served = 0;
    for (let i = 0; i < 20; i++) {
      const response = await post(large, bearer(viewer));
      if (response.status !== 200) break;
      served++;
    }
    expect(served).toBe(12); // 60 requests a minute, 5 each
    // A body that is no JSON, as large (5 requests): refused unparsed (a 400 would say it was parsed). As large,
    // because the pace gives back a request a second: one of 1 could pass if the loop above took a second.
    const refused = await post(NOT_JSON.padEnd(large.length, ' '), bearer(viewer));
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBeTruthy();
    expect((await refused.json()).errors[0].extensions.code).toBe('RATE_LIMITED');
    // Another viewer is served, and a well-formed request still answers as before.
    const other = await t.viewer();
    const answer = await post(JSON.stringify({ query }), bearer(other));
    expect(await answer.json()).toEqual({ data: { viewer: { userId: other.userId } } });
    expect((await post(NOT_JSON, bearer(other))).status).toBe(400);
  });

  it('nested deeper than any input is refused before it is parsed', async () => {
    const viewer = await t.viewer();
    const levels = 500_000;
    const deep = `{"query": "{ viewer { userId } }", "variables": { "x": ${'['.repeat(levels)}${']'.repeat(levels)} }}`;
    const response = await post(deep, bearer(viewer));
    const body = await response.json();
    expect(body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(body.errors[0].message).toContain('nested more than 128 levels');
    // Nested as deep as inputs may be, it is parsed and answered.
    const fine = await post(JSON.stringify({ query: '{ viewer { userId } }', variables: { x: JSON.parse('['.repeat(60) + ']'.repeat(60)) } }), bearer(viewer));
    expect((await fine.json()).data.viewer.userId).toBe(viewer.userId);
  });
});

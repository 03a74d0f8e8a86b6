// graphql-http's GraphQL-over-HTTP conformance audits against the real server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serverAudits } from 'graphql-http';
import { startTestApp, type TestApp, type TestViewer } from './helpers.ts';
import type { RunningServer } from '../src/server.ts';

let t: TestApp;
let server: RunningServer;
let viewer: TestViewer;
beforeAll(async () => {
  t = await startTestApp();
  server = await t.listen();
  viewer = await t.viewer();
});
afterAll(() => t.close());

const authorizedFetch: typeof fetch = (input, init = {}) => {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${viewer.token}`);
  return fetch(input, { ...init, headers });
};

describe('graphql-http audits', () => {
  for (const audit of serverAudits({ url: () => server.url, fetchFn: authorizedFetch })) {
    it(`${audit.id} ${audit.name}`, async () => {
      const result = await audit.fn();
      expect(result, JSON.stringify(result, null, 2)).toMatchObject({ status: 'ok' });
    });
  }
});

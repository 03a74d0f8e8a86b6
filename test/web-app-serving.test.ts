// What the server answers for the web app's paths, from a build of its own (no browser needed): the app's
// pages get index.html, other paths are not the app's, hashed assets are cached for good, every answer
// carries the content security policy, and nothing outside the build is reachable.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadWebApp } from '../src/web-app.ts';

const SCRIPT = `console.log("${'a chat app '.repeat(500)}")`;
let root: string;
let server: http.Server;
let origin: string;

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'web-build-'));
  fs.mkdirSync(path.join(root, 'assets'));
  fs.writeFileSync(path.join(root, 'index.html'), '<!doctype html><title>app</title>');
  fs.writeFileSync(path.join(root, 'assets', 'index-abc123.js'), 'console.log(1)');
  fs.writeFileSync(path.join(root, 'assets', 'app-def456.js'), SCRIPT);
  fs.writeFileSync(path.join(root, 'assets', 'app-def456.js.br'), zlib.brotliCompressSync(SCRIPT));
  fs.writeFileSync(path.join(root, 'assets', 'app-def456.js.gz'), zlib.gzipSync(SCRIPT));
  fs.writeFileSync(path.join(path.dirname(root), 'outside-the-build.txt'), 'secret');
  const app = loadWebApp(root)!;
  server = http.createServer((req, res) => app(req, res, () => res.writeHead(404).end('not the app')));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => {
  server?.close();
  fs.rmSync(root, { recursive: true, force: true });
  fs.rmSync(path.join(path.dirname(root), 'outside-the-build.txt'), { force: true });
});

const get = async (pathname: string) => {
  const response = await fetch(origin + pathname);
  return { status: response.status, body: await response.text(), headers: response.headers };
};

it('answers the app\'s own pages with index.html, revalidated, under the content security policy', async () => {
  for (const page of ['/', '/c/Q29udmVyc2F0aW9uOjE=', '/c/abc?x=1']) {
    const { status, body, headers } = await get(page);
    expect([page, status, body]).toEqual([page, 200, '<!doctype html><title>app</title>']);
    expect(headers.get('cache-control')).toBe('no-cache');
    expect(headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(headers.get('x-content-type-options')).toBe('nosniff');
  }
});

it('caches hashed assets for good', async () => {
  const { status, headers } = await get('/assets/index-abc123.js');
  expect(status).toBe(200);
  expect(headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
});

it('leaves every other path to the rest of the server: no catch-all, nothing outside the build', async () => {
  for (const other of ['/ready/', '/health/', '/c/a/b', '/c/', '/assets/missing', '/assets/', '/../outside-the-build.txt', '/%2e%2e/outside-the-build.txt', '/.hidden']) {
    const { status, body } = await get(other);
    expect([other, status, body]).toEqual([other, 404, 'not the app']);
  }
});

it('answers a Range, valid or not, with the whole file', async () => {
  for (const range of ['bytes=5-1', 'bytes=-5', 'bytes=0-3', 'bytes=0-1,4-6', 'bytes=99999-', 'nonsense']) {
    const response = await fetch(`${origin}/assets/index-abc123.js`, { headers: { range } });
    expect([range, response.status, await response.text()]).toEqual([range, 200, 'console.log(1)']);
  }
});

it('is absent when the app is not built', () => {
  expect(loadWebApp(path.join(root, 'no-build-here'))).toBeNull();
});

it("sends the build's compressed copy a browser accepts, brotli first, and the file itself to one that accepts neither", async () => {
  /** Raw bytes and headers: fetch would ask for and undo the compression itself. */
  const raw = (pathname: string, acceptEncoding?: string) =>
    new Promise<{ headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      http.get(origin + pathname, { headers: acceptEncoding ? { 'accept-encoding': acceptEncoding } : {} }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk)).on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) })).on('error', reject);
      }).on('error', reject);
    });
  const brotli = await raw('/assets/app-def456.js', 'gzip, deflate, br');
  expect(brotli.headers['content-encoding']).toBe('br');
  expect(brotli.headers['content-type']).toContain('javascript');
  expect(brotli.headers.vary).toBe('Accept-Encoding');
  expect(brotli.headers['cache-control']).toBe('public, max-age=31536000, immutable');
  expect(zlib.brotliDecompressSync(brotli.body).toString()).toBe(SCRIPT);
  const gzip = await raw('/assets/app-def456.js', 'gzip');
  expect(gzip.headers['content-encoding']).toBe('gzip');
  expect(zlib.gunzipSync(gzip.body).toString()).toBe(SCRIPT);
  const plain = await raw('/assets/app-def456.js');
  expect(plain.headers['content-encoding']).toBeUndefined();
  expect(plain.body.toString()).toBe(SCRIPT);
});

// The web app (web/, built by Vite into dist/web/) served at /: its files, and index.html for the app's
// own paths (/ and /c/<id>), so that a reload or a shared link opens the same chat; any other path is not
// the app's (404 from the GraphQL handler). Hashed assets are cached for good; index.html is revalidated,
// so a new build is picked up at the next load. Compressed as built, when the browser accepts it.
import fs from 'node:fs';
import type http from 'node:http';
import { fileURLToPath } from 'node:url';
import sirv from 'sirv';

/** Compiled, dist/web-app.js sits beside dist/web/; from the sources (tests, `npm run dev`), src/ beside dist/. */
const WEB_ROOT = fileURLToPath(new URL(import.meta.url.endsWith('.js') ? './web/' : '../dist/web/', import.meta.url));

/**
 * The page may load from this server alone: scripts and styles from its own files (no inline code), data
 * from its API (HTTP and WebSocket), images inline or its own; it may not be framed.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

export type WebApp = (req: http.IncomingMessage, res: http.ServerResponse, notFound: () => void) => void;

/** The handler, or null when the app has not been built (`npm run build` builds it). */
export function loadWebApp(root = WEB_ROOT): WebApp | null {
  if (!fs.existsSync(`${root}/index.html`)) return null;
  const serve = sirv(root, {
    etag: true,
    // The build's `.br` and `.gz` copies (web/precompress.ts), to a browser that accepts them.
    brotli: true,
    gzip: true,
    setHeaders(res, pathname) {
      res.setHeader('cache-control', pathname.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
      res.setHeader('content-security-policy', CONTENT_SECURITY_POLICY);
      res.setHeader('x-content-type-options', 'nosniff');
      res.setHeader('referrer-policy', 'same-origin');
    },
  });
  return (req, res, notFound) => {
    // The app's own pages are index.html; any other path is a file of the build or nothing (404).
    if (APP_PAGE.test(req.url?.split('?')[0] ?? '')) req.url = '/';
    // sirv passes a Range's bounds to fs.createReadStream unchecked: `bytes=5-1` threw outside any handler
    // and ended the process, `bytes=-5` gave the first bytes. The app's files are small: always whole.
    delete req.headers.range;
    serve(req, res, notFound);
  };
}

/** The paths the app answers itself: a new chat, and a conversation's. */
const APP_PAGE = /^\/c\/[^/]+$/;

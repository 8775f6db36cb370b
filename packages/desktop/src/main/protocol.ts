// The renderer is served from disk at app://goutong/app/ (same /app/ base as the web build), a
// standard, secure scheme so IndexedDB, fetch and the CSP work as on the web.
import path from 'node:path';
import { APP_HOST } from '../shared/ipc';

export const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self' http: https: ws: wss:; frame-src 'self' blob: data:; object-src 'none'; base-uri 'none'";

/** The file for an app:// URL, or null outside the renderer folder (index.html for app routes). */
export function resolveAppFile(rendererDir: string, url: string): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  if (u.host !== APP_HOST || !u.pathname.startsWith('/app/')) return null;
  const rel = decodeURIComponent(u.pathname.slice('/app/'.length));
  const root = path.resolve(rendererDir);
  const file = path.resolve(root, rel || 'index.html');
  if (file !== root && !file.startsWith(root + path.sep)) return null;
  // Routes of the single-page app have no extension: serve index.html.
  return path.extname(file) ? file : path.join(root, 'index.html');
}

export const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.ttf': 'font/ttf',
};

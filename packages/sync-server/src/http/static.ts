import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json', '.svg': 'image/svg+xml', '.png': 'image/png',
  '.ico': 'image/x-icon', '.woff2': 'font/woff2', '.woff': 'font/woff', '.ttf': 'font/ttf', '.webmanifest': 'application/manifest+json',
  '.wasm': 'application/wasm', '.map': 'application/json',
};

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  // Script only from ourselves; remote e-mail HTML is rendered in sandboxed frames without script.
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self' ws: wss:; frame-src 'self' blob: data:; object-src 'none'; base-uri 'none'",
};

/**
 * Serves a built single-page app under a mount point (`/app` for the agent workspace, `/m` for the
 * mobile H5 build): unknown paths get index.html.
 */
export function serveWebApp(app: FastifyInstance, dir: string | null, mount = '/app', what = 'agent web app'): void {
  if (mount === '/app') app.get('/', async (_req, reply) => reply.redirect('/app/'));
  app.get(mount, async (_req, reply) => reply.redirect(`${mount}/`));
  app.get(`${mount}/*`, async (req, reply) => {
    if (!dir || !fs.existsSync(path.join(dir, 'index.html'))) {
      return reply
        .status(503)
        .type('text/html; charset=utf-8')
        .send(`<!doctype html><meta charset="utf-8"><title>Goutong</title><p>The ${what} is not built. Run <code>pnpm start</code> from the repository root (it builds it).</p>`);
    }
    const rel = decodeURIComponent((req.params as { '*': string })['*'] ?? '');
    const file = path.resolve(dir, rel || 'index.html');
    const inside = file.startsWith(path.resolve(dir) + path.sep);
    const target = inside && fs.existsSync(file) && fs.statSync(file).isFile() ? file : path.join(dir, 'index.html');
    const ext = path.extname(target);
    const immutable = target.includes(`${path.sep}assets${path.sep}`);
    return reply
      .headers(SECURITY_HEADERS)
      .header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
      .type(TYPES[ext] ?? 'application/octet-stream')
      .send(fs.createReadStream(target));
  });
}

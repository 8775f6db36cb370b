import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type RouteOptions } from 'fastify';
import { checkProtocolVersion, PROTOCOL_HEADER, PROTOCOL_VERSION, type Agent, type Logger } from '@goutong/core';
import { ApiError, badRequest } from '../errors.js';
import { AUTH_HOOK, auditContextHook } from '../auth/request.js';

declare module 'fastify' {
  interface FastifyRequest {
    rawBody?: string;
    agent?: Agent;
  }
}

export const BODY_LIMIT = 1024 * 1024;

/** [accounts] Transport options: HTTPS (PEM certificate and key) with HSTS, and the proxies to trust. */
export interface HttpOptions {
  https?: { cert: Buffer | string; key: Buffer | string };
  hstsMaxAge?: number;
  trustProxy?: boolean | string[];
}

/** Routes whose answers carry tokens: never cached by a browser or a proxy. */
export const TOKEN_ROUTES: ReadonlySet<string> = new Set(['/api/v1/auth/login', '/api/v1/auth/refresh']);

/** `1 MiB`, `25 MiB`, `512 bytes`: a limit as people read it. */
export function formatBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}


export function sendError(reply: FastifyReply, e: ApiError): FastifyReply {
  return reply.status(e.status).send({ error: { code: e.code, message: e.message, ...(e.details !== undefined ? { details: e.details } : {}) } });
}

/** Fastify with JSON errors, raw bodies kept for signatures, and size limits. */
export function createHttp(logger: Logger, opts: HttpOptions = {}): FastifyInstance {
  // forceCloseConnections: a stop never waits for a client's keep-alive to run out.
  // [accounts] HTTPS from a certificate and key; behind a reverse proxy, trustProxy makes req.ip the client's (audit IP).
  const app = (opts.https
    ? Fastify({ logger: false, bodyLimit: BODY_LIMIT, trustProxy: opts.trustProxy ?? false, return503OnClosing: true, forceCloseConnections: true, https: opts.https })
    : Fastify({ logger: false, bodyLimit: BODY_LIMIT, trustProxy: opts.trustProxy ?? false, return503OnClosing: true, forceCloseConnections: true })) as unknown as FastifyInstance;
  if (opts.https) {
    const hsts = `max-age=${opts.hstsMaxAge ?? 31_536_000}; includeSubDomains`;
    app.addHook('onSend', async (_req, reply) => {
      reply.header('strict-transport-security', hsts);
    });
  }

  // Authentication before the body: a route's requireAgent hook moves from preHandler to onRequest,
  // so an unauthenticated upload is refused at the headers instead of after 25 MiB have streamed in.
  app.addHook('onRoute', (route: RouteOptions) => {
    const pre = route.preHandler;
    const list = (Array.isArray(pre) ? pre : pre ? [pre] : []) as unknown[];
    const auth: unknown[] = list.filter((h) => typeof h === 'function' && AUTH_HOOK in h);
    if (auth.length === 0) return;
    const rest = list.filter((h) => !auth.includes(h));
    route.preHandler = rest.length ? (rest as RouteOptions['preHandler']) : undefined;
    const on = route.onRequest;
    const before = (Array.isArray(on) ? on : on ? [on] : []) as unknown[];
    route.onRequest = [...auth, ...before] as RouteOptions['onRequest'];
  });
  app.addHook('onRequest', auditContextHook); // [trust] audit rows record the request's address, agent and session
  // Every answer: no MIME sniffing; token answers: never stored.
  app.addHook('onSend', async (req, reply) => {
    reply.header('x-content-type-options', 'nosniff');
    if (TOKEN_ROUTES.has(req.routeOptions.url ?? '')) {
      reply.header('cache-control', 'no-store');
      reply.header('pragma', 'no-cache');
    }
  });

  app.removeAllContentTypeParsers();
  const keepRaw = (req: FastifyRequest, body: string, done: (err: Error | null, body?: unknown) => void) => {
    req.rawBody = body;
    done(null, body);
  };
  app.addContentTypeParser(['application/json', 'application/*+json'], { parseAs: 'string' }, (req, body, done) => {
    req.rawBody = body as string;
    if ((body as string).length === 0) return done(null, undefined);
    try {
      done(null, JSON.parse(body as string));
    } catch {
      done(badRequest('malformed JSON body'));
    }
  });
  app.addContentTypeParser(['application/x-www-form-urlencoded', 'text/plain'], { parseAs: 'string' }, (req, body, done) => keepRaw(req, body as string, done));
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  // Protocol version (core PROTOCOL.md): every answer names the server's; a client announcing
  // another major version is refused with 426 before anything else (auth, body) happens.
  app.addHook('onRequest', async (req, reply) => {
    reply.header(PROTOCOL_HEADER, String(PROTOCOL_VERSION));
    const check = checkProtocolVersion(req.headers[PROTOCOL_HEADER.toLowerCase()]);
    if (!check.ok) {
      throw check.reason === 'malformed' ? badRequest(check.message) : new ApiError('upgrade_required', `${check.message} (the server speaks version ${PROTOCOL_VERSION})`, { serverVersion: PROTOCOL_VERSION });
    }
  });

  app.setErrorHandler((err, req, reply) => {
    if (err instanceof ApiError) {
      const retry = (err.details as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
      if (err.code === 'rate_limited' && typeof retry === 'number') reply.header('retry-after', String(retry));
      return sendError(reply, err);
    }
    const e = err as { statusCode?: number; code?: string; message?: string };
    if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || e.statusCode === 413) {
      const limit = req.routeOptions.bodyLimit ?? BODY_LIMIT;
      return sendError(reply, new ApiError('payload_too_large', `request body exceeds this route's limit of ${formatBytes(limit)} (${limit} bytes)`, { limitBytes: limit }));
    }
    if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || e.statusCode === 415) {
      return reply.status(415).send({ error: { code: 'unsupported_media_type', message: 'send JSON (content-type: application/json)' } });
    }
    if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
      return reply.status(e.statusCode).send({ error: { code: 'bad_request', message: e.message ?? 'bad request' } });
    }
    logger.error('http: unhandled error', { method: req.method, url: req.url.split('?')[0], error: String(err), stack: (err as Error).stack?.split('\n').slice(0, 4).join(' | ') });
    return sendError(reply, new ApiError('internal', 'internal error; it was logged'));
  });
  app.setNotFoundHandler((req, reply) => sendError(reply, new ApiError('not_found', `no route ${req.method} ${req.url.split('?')[0]}`)));
  return app;
}

// Moved below the http layer (channels use them too); re-exported for the routes.
export { bearer, requireAgent, agentOf, requireRole, requirePermission } from '../auth/request.js';
export { parse } from '../errors.js';

import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { checkProtocolVersion, PROTOCOL_HEADER, PROTOCOL_VERSION, type Agent, type Logger } from '@goutong/core';
import { ApiError, badRequest } from '../errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    rawBody?: string;
    agent?: Agent;
  }
}

export const BODY_LIMIT = 1024 * 1024;

export function sendError(reply: FastifyReply, e: ApiError): FastifyReply {
  return reply.status(e.status).send({ error: { code: e.code, message: e.message, ...(e.details !== undefined ? { details: e.details } : {}) } });
}

/** Fastify with JSON errors, raw bodies kept for signatures, and size limits. */
export function createHttp(logger: Logger): FastifyInstance {
  // forceCloseConnections: a stop never waits for a client's keep-alive to run out.
  const app = Fastify({ logger: false, bodyLimit: BODY_LIMIT, trustProxy: false, return503OnClosing: true, forceCloseConnections: true });

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
    if (err instanceof ApiError) return sendError(reply, err);
    const e = err as { statusCode?: number; code?: string; message?: string };
    if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || e.statusCode === 413) {
      return sendError(reply, new ApiError('payload_too_large', `request body exceeds ${BODY_LIMIT} bytes`));
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
export { bearer, requireAgent, agentOf, requireRole } from '../auth/request.js';
export { parse } from '../errors.js';

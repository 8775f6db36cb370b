import fs from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { Id } from '@goutong/core';
import type { AuthService } from '../auth/service.js';
import type { Workspace } from '../domain/workspace.js';
import { ApiError, notFound, unauthorized } from '../errors.js';
import { bearer, parse } from '../http/app.js';
import { AttachmentStore, MAX_ATTACHMENT_BYTES } from './store.js';

const UploadQuery = z.object({ name: z.string().min(1).max(255) });
const DownloadQuery = z.object({ exp: z.string().max(20).optional(), sig: z.string().max(64).optional(), inline: z.enum(['0', '1']).optional() });

/** Types a browser may show inline; everything else downloads (no HTML or SVG from customers, ever inline). */
const INLINE = /^(image\/(png|jpeg|gif|webp)|audio\/[a-z0-9.+-]+|video\/(mp4|webm)|application\/pdf|text\/plain)$/;

/**
 * `POST /api/v1/attachments?name=photo.jpg` with the raw bytes as the body (any content type,
 * up to 25 MiB) → the attachment's metadata with a signed `url`; `GET /api/v1/attachments/{id}`
 * with a bearer token or the signed query.
 */
export function registerAttachmentRoutes(app: FastifyInstance, d: { auth: AuthService; store: AttachmentStore; workspace: Workspace }): void {
  app.post('/api/v1/attachments', { bodyLimit: MAX_ATTACHMENT_BYTES }, async (req, reply) => {
    const token = bearer(req);
    if (!token) throw unauthorized('missing bearer token');
    const agent = await d.auth.authenticate(token);
    const { name } = parse(UploadQuery, req.query, 'query');
    const body = req.body;
    const bytes = Buffer.isBuffer(body) ? body : typeof body === 'string' ? Buffer.from(body, 'utf8') : req.rawBody !== undefined ? Buffer.from(req.rawBody, 'utf8') : null;
    if (!bytes || bytes.length === 0) throw new ApiError('bad_request', 'send the file as the request body');
    const a = await d.store.put(agent.tenantId, bytes, { name, mime: req.headers['content-type'], createdBy: agent.id });
    return reply.status(201).send(a);
  });

  app.get('/api/v1/attachments/:id', async (req, reply) => {
    const { id } = parse(z.object({ id: Id }), req.params, 'path');
    const q = parse(DownloadQuery, req.query, 'query');
    let tenantId: string | null = null;
    const token = bearer(req);
    if (token) {
      const agent = await d.auth.authenticate(token);
      tenantId = agent.tenantId;
      // An attachment of a message is visible to whoever may see that message's conversation.
      const link = await d.workspace.db.one<{ conversation_id: string }>(
        'SELECT m.conversation_id FROM attachments a JOIN messages m ON m.id = a.message_id WHERE a.id = ? AND a.tenant_id = ?',
        [id, agent.tenantId],
      );
      if (link) await d.workspace.visibleConversation(agent, link.conversation_id).catch(() => {
        throw notFound(`attachment ${id} not found`);
      });
    } else if (!d.store.verify(id, q.exp, q.sig)) throw unauthorized('missing bearer token or a valid signed URL');
    const found = await d.store.get(tenantId, id);
    if (!found) throw notFound(`attachment ${id} not found`);
    const { attachment, file } = found;
    const inline = q.inline === '1' && INLINE.test(attachment.mime);
    return reply
      .header('content-type', attachment.mime)
      .header('content-length', String(attachment.size))
      .header('x-content-type-options', 'nosniff')
      .header('content-security-policy', "default-src 'none'; sandbox")
      .header('cache-control', 'private, max-age=86400, immutable')
      .header('content-disposition', `${inline ? 'inline' : 'attachment'}; filename*=UTF-8''${encodeURIComponent(attachment.name)}`)
      .send(fs.createReadStream(file));
  });
}

import fs from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { Id } from '@goutong/core';
import type { AuthService } from '../auth/service.js';
import type { Workspace } from '../domain/workspace.js';
import { ApiError, notFound, unauthorized } from '../errors.js';
import { agentOf, bearer, parse, requireAgent } from '../http/app.js';
import { attachmentConversation } from '../domain/attachments.js';
import { downloadFileName } from '../domain/masking.js';
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
  // onRequest: the token is checked at the headers, before 25 MiB are read.
  app.post('/api/v1/attachments', { bodyLimit: MAX_ATTACHMENT_BYTES, onRequest: requireAgent(d.auth) }, async (req, reply) => {
    const agent = agentOf(req);
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
    const missing = () => notFound(`attachment ${id} not found`);
    const token = bearer(req);
    let found: Awaited<ReturnType<AttachmentStore['get']>>;
    // [trust] Who asks: an agent or API key (its pii.view decides), or the holder of a signed link (no role).
    let principal: Parameters<typeof downloadFileName>[1] = null;
    if (token) {
      // With a token: the agent's tenant, and the scope of the message the attachment belongs to.
      const agent = await d.auth.authenticate(token);
      principal = agent;
      found = await d.store.get(agent.tenantId, id);
      if (!found) throw missing();
      const conversationId = await attachmentConversation(d.workspace.db, agent.tenantId, id);
      if (conversationId) {
        await d.workspace.visibleConversation(agent, conversationId).catch(() => {
          throw missing();
        });
      } else if (found.row.message_id !== null || found.row.created_by !== agent.id) {
        // Unbound: only its uploader (a bound one whose message is gone: nobody).
        throw missing();
      }
    } else {
      // A signed URL: issued with a message to agents who may see it, or to the uploader; bound to
      // the tenant and the attachment, and it expires.
      const row = await d.store.rowById(id);
      if (!row || !d.store.verify(row.tenant_id, id, q.exp, q.sig)) throw unauthorized('missing bearer token or a valid signed URL');
      found = await d.store.get(row.tenant_id, id);
      if (!found) throw missing();
    }
    const { attachment, file } = found;
    const name = await downloadFileName(d.workspace.db, principal, found.row.tenant_id, attachment.name);
    const inline = q.inline === '1' && INLINE.test(attachment.mime);
    return reply
      .header('content-type', attachment.mime)
      .header('content-length', String(attachment.size))
      .header('x-content-type-options', 'nosniff')
      .header('content-security-policy', "default-src 'none'; sandbox")
      .header('cache-control', 'private, max-age=86400, immutable')
      .header('content-disposition', `${inline ? 'inline' : 'attachment'}; filename*=UTF-8''${encodeURIComponent(name)}`)
      .send(fs.createReadStream(file));
  });
}

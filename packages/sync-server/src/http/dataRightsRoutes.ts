import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { Id, RetentionPolicy } from '@goutong/core';
import type { AuthService } from '../auth/service.js';
import type { Workspace } from '../domain/workspace.js';
import { eraseContact, exportContact, exportCsv } from '../domain/dataRights.js';
import { retentionPolicy, setRetentionPolicy } from '../domain/retention.js';
import { agentOf, parse, requireAgent, requireRole } from './app.js';

const IdParam = z.object({ id: Id });
const ExportQuery = z.object({ format: z.enum(['json', 'csv']).default('json') });

/** [accounts] Data subject rights (export, erasure) and the retention setting. */
export function registerDataRightsRoutes(app: FastifyInstance, d: { auth: AuthService; workspace: Workspace; removeBlobs: (shas: readonly string[]) => void }): void {
  const ws = d.workspace;
  const authed = { preHandler: requireAgent(d.auth) };

  app.get('/api/v1/contacts/:id/export', authed, async (req, reply) => {
    const actor = agentOf(req);
    requireRole(actor, ['admin', 'supervisor']);
    const { id } = parse(IdParam, req.params, 'path');
    const { format } = parse(ExportQuery, req.query, 'query');
    await ws.visibleContact(actor, id);
    const e = await exportContact(ws.db, actor, id, format, Date.now());
    reply.header('cache-control', 'no-store');
    if (format === 'csv') {
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="contact-${id}.csv"`)
        .send(exportCsv(e));
    }
    return reply.header('content-disposition', `attachment; filename="contact-${id}.json"`).send(e);
  });

  app.post('/api/v1/contacts/:id/erase', authed, async (req) => {
    const actor = agentOf(req);
    requireRole(actor, ['admin']);
    const { id } = parse(IdParam, req.params, 'path');
    await ws.visibleContact(actor, id);
    const r = await eraseContact(ws.db, actor, id, Date.now());
    d.removeBlobs(r.orphanedBlobs);
    ws.committed.emit({ tenantId: actor.tenantId, seq: r.seq });
    return { erased: true, messages: r.messages, seq: r.seq };
  });

  app.get('/api/v1/settings/retention', authed, async (req) => retentionPolicy(ws.db, agentOf(req).tenantId));
  app.put('/api/v1/settings/retention', authed, async (req) => {
    const actor = agentOf(req);
    requireRole(actor, ['admin']);
    const policy = await setRetentionPolicy(ws.db, actor, parse(RetentionPolicy, req.body, 'retention policy'), Date.now());
    const seq = await ws.currentSeq(actor.tenantId);
    ws.committed.emit({ tenantId: actor.tenantId, seq });
    return policy;
  });
}

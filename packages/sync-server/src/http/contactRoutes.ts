import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { Id } from '@goutong/core';
import type { AuthService } from '../auth/service.js';
import type { Workspace } from '../domain/workspace.js';
import { contactTimeline, mergeContacts, mergesOf, mergeSuggestions, searchContacts, unmergeContacts } from '../domain/contacts360.js';
import { agentOf, parse, requireAgent } from './app.js';

const ListQuery = z.object({
  q: z.string().max(200).default(''),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).max(100_000).default(0),
});
const TimelineQuery = z.object({ before: z.coerce.number().int().nonnegative().optional(), limit: z.coerce.number().int().min(1).max(200).default(50) });
const IdParam = z.object({ id: Id });
const MergeBody = z.object({ otherId: Id }).strict();
const UnmergeBody = z.object({ mergeId: Id }).strict();

/** Customer 360: the contacts list with search, one customer's timeline across channels, merging duplicates (undoable). */
export function registerContactRoutes(app: FastifyInstance, d: { auth: AuthService; workspace: Workspace; now?: () => number }): void {
  const ws = d.workspace;
  const now = d.now ?? Date.now;
  const authed = { preHandler: requireAgent(d.auth) };

  app.get('/api/v1/contacts', authed, async (req) => {
    const agent = agentOf(req);
    const query = parse(ListQuery, req.query, 'contacts query');
    const items = await searchContacts(ws.db, agent, await ws.scope(agent), query.q, query.limit + 1, query.offset);
    return { items: items.slice(0, query.limit), nextOffset: items.length > query.limit ? query.offset + query.limit : null };
  });

  app.get('/api/v1/contacts/:id/timeline', authed, async (req) => {
    const agent = agentOf(req);
    const { id } = parse(IdParam, req.params, 'path');
    const query = parse(TimelineQuery, req.query, 'timeline query');
    await ws.visibleContact(agent, id);
    const items = await contactTimeline(ws.db, agent.tenantId, id, await ws.scope(agent), query.before ?? null, query.limit + 1);
    const page = items.slice(0, query.limit);
    return { items: page.map((i) => ({ ...i, message: ws.withAttachmentUrls(i.message) })), nextBefore: items.length > query.limit ? page[page.length - 1]!.message.createdAt : null };
  });

  app.get('/api/v1/contacts/:id/merge-suggestions', authed, async (req) => {
    const { id } = parse(IdParam, req.params, 'path');
    return { items: await mergeSuggestions(ws.db, agentOf(req), id) };
  });

  app.post('/api/v1/contacts/:id/merge', authed, async (req) => {
    const { id } = parse(IdParam, req.params, 'path');
    const body = parse(MergeBody, req.body, 'merge');
    return mergeContacts(ws, agentOf(req), id, body.otherId, now());
  });

  app.get('/api/v1/contacts/:id/merges', authed, async (req) => {
    const agent = agentOf(req);
    const { id } = parse(IdParam, req.params, 'path');
    await ws.visibleContact(agent, id);
    return { items: await mergesOf(ws.db, agent.tenantId, id) };
  });

  app.post('/api/v1/contacts/:id/unmerge', authed, async (req) => {
    const { id } = parse(IdParam, req.params, 'path');
    const body = parse(UnmergeBody, req.body, 'unmerge');
    return { contact: await unmergeContacts(ws, agentOf(req), id, body.mergeId, now()) };
  });
}

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { Id, Macro, MacroInput, SavedView, SavedViewInput } from '@goutong/core';
import type { AuthService } from '../auth/service.js';
import type { Workspace } from '../domain/workspace.js';
import { Macros } from '../domain/macros.js';
import { SavedViews } from '../domain/savedViews.js';
import { agentOf, parse, requireAgent } from './app.js';
import { js, json } from '../jsonSchema.js';

const IdParam = z.object({ id: Id });

/**
 * The composer's configuration (every signed-in agent; the rules of who edits what are core's
 * `mayEditMacro` / `mayEditSavedView`):
 *  - /api/v1/macros: saved sequences of actions, shared (canned.manage) or the agent's own.
 *  - /api/v1/saved-views: named inbox filters, the agent's own or shared (settings.manage).
 */
export function registerComposerRoutes(app: FastifyInstance, d: { auth: AuthService; workspace: Workspace; now?: () => number }): void {
  const ws = d.workspace;
  const macros = new Macros(ws.db, d.now);
  const views = new SavedViews(ws.db, d.now);
  const authed = { preHandler: requireAgent(d.auth) };

  app.get('/api/v1/macros', authed, async (req) => ({ items: await macros.list(agentOf(req)) }));
  app.get('/api/v1/macros/:id', authed, async (req) => macros.get(agentOf(req), parse(IdParam, req.params, 'path').id));
  app.post('/api/v1/macros', authed, async (req, reply) =>
    reply.status(201).send(await macros.create(agentOf(req), ws.ids.next(), parse(MacroInput, req.body, 'macro'))));
  app.patch('/api/v1/macros/:id', authed, async (req) =>
    macros.update(agentOf(req), parse(IdParam, req.params, 'path').id, parse(MacroInput.partial().strict(), req.body, 'macro')));
  app.delete('/api/v1/macros/:id', authed, async (req, reply) => {
    await macros.remove(agentOf(req), parse(IdParam, req.params, 'path').id);
    return reply.status(204).send();
  });

  app.get('/api/v1/saved-views', authed, async (req) => ({ items: await views.list(agentOf(req)) }));
  app.post('/api/v1/saved-views', authed, async (req, reply) =>
    reply.status(201).send(await views.create(agentOf(req), ws.ids.next(), parse(SavedViewInput, req.body, 'saved view'))));
  app.patch('/api/v1/saved-views/:id', authed, async (req) =>
    views.update(agentOf(req), parse(IdParam, req.params, 'path').id, parse(SavedViewInput.partial().strict(), req.body, 'saved view')));
  app.delete('/api/v1/saved-views/:id', authed, async (req, reply) => {
    await views.remove(agentOf(req), parse(IdParam, req.params, 'path').id);
    return reply.status(204).send();
  });
}

/** The OpenAPI paths and schemas of these routes. */
export function composerOpenApi(): { schemas: Record<string, unknown>; paths: Record<string, unknown> } {
  const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
  const err = Object.fromEntries((['400', '401', '403', '404', '409'] as const).map((c) => [c, { description: 'Error', content: json(ref('Error')) }]));
  const ok = (schema: unknown, code = '200') => ({ [code]: { description: 'OK', content: json(schema) }, ...err });
  const list = (name: string) => ({ type: 'object', properties: { items: { type: 'array', items: ref(name) } } });
  const bearer = [{ bearer: [] }];
  const id = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
  const gone = { '204': { description: 'Deleted' }, ...err };
  return {
    schemas: { Macro: js(Macro), MacroInput: js(MacroInput), SavedView: js(SavedView), SavedViewInput: js(SavedViewInput) },
    paths: {
      '/api/v1/macros': {
        get: { summary: 'The macros the caller may apply: the shared ones and their own', security: bearer, responses: ok(list('Macro')) },
        post: { summary: 'Create a macro: actions applied in order as the normal commands (shared: canned.manage; unknown agents/teams/variables → 400)', security: bearer, requestBody: { required: true, content: json(ref('MacroInput')) }, responses: ok(ref('Macro'), '201') },
      },
      '/api/v1/macros/{id}': {
        get: { summary: 'A macro', security: bearer, parameters: [id], responses: ok(ref('Macro')) },
        patch: { summary: 'Change a macro (its owner; shared ones: canned.manage)', security: bearer, parameters: [id], requestBody: { required: true, content: json(ref('MacroInput')) }, responses: ok(ref('Macro')) },
        delete: { summary: 'Delete a macro (its owner; shared ones: canned.manage)', security: bearer, parameters: [id], responses: gone },
      },
      '/api/v1/saved-views': {
        get: { summary: 'The caller\'s saved views, then the shared ones', security: bearer, responses: ok(list('SavedView')) },
        post: { summary: 'Save the inbox filters under a name (shared: settings.manage)', security: bearer, requestBody: { required: true, content: json(ref('SavedViewInput')) }, responses: ok(ref('SavedView'), '201') },
      },
      '/api/v1/saved-views/{id}': {
        patch: { summary: 'Rename or change a view (its owner; shared ones: settings.manage)', security: bearer, parameters: [id], requestBody: { required: true, content: json(ref('SavedViewInput')) }, responses: ok(ref('SavedView')) },
        delete: { summary: 'Delete a view (its owner; shared ones: settings.manage)', security: bearer, parameters: [id], responses: gone },
      },
    },
  };
}

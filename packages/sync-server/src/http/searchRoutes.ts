import type { FastifyInstance } from 'fastify';
import { SearchPage } from '@goutong/core';
import type { AuthService } from '../auth/service.js';
import type { Workspace } from '../domain/workspace.js';
import { maskerFor } from '../domain/masking.js';
import { searchHistory, SearchQuery } from '../domain/search.js';
import { agentOf, parse, requireAgent } from './app.js';
import { js } from '../jsonSchema.js';

/** [search] `GET /api/v1/search`: full-text search over all history in the caller's scope, masked by role. */
export function registerSearchRoutes(app: FastifyInstance, d: { auth: AuthService; workspace: Workspace }): void {
  const ws = d.workspace;
  app.get('/api/v1/search', { preHandler: requireAgent(d.auth) }, async (req) => {
    const agent = agentOf(req);
    const query = parse(SearchQuery, req.query, 'search query');
    const [scope, mask] = [await ws.scope(agent), await maskerFor(ws.db, agent)];
    return searchHistory(ws.db, { tenantId: agent.tenantId, scope, mask, text: query.q, limit: query.limit, cursor: query.cursor ?? null });
  });
}


/** The OpenAPI part of the search route. */
export function searchOpenApi(errors: Record<string, unknown>): { paths: Record<string, unknown>; schemas: Record<string, unknown> } {
  return {
    schemas: { SearchPage: js(SearchPage, 'output') },
    paths: {
      '/api/v1/search': {
        get: {
          summary:
            'Full-text search over all history in your scope: message bodies (email, SMS, IM, notes, call transcripts, your own replies), contact names, email addresses and phone numbers (any format), subjects and ticket numbers (#42). Chinese and English; newest first. Without the pii.view permission the snippets are masked and a clear value of masked personal data finds nothing.',
          security: [{ bearer: [] }],
          parameters: [
            { name: 'q', in: 'query', required: true, schema: { type: 'string', minLength: 1, maxLength: 400 }, description: 'What to find (1 character or more)' },
            { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 100, default: 30 } },
            { name: 'cursor', in: 'query', required: false, schema: { type: 'string' }, description: 'nextCursor of the previous page' },
          ],
          responses: {
            '200': { description: 'Hits: the conversation, the message (open the conversation at it), a snippet with highlight ranges', content: { 'application/json': { schema: { $ref: '#/components/schemas/SearchPage' } } } },
            ...errors,
          },
        },
      },
    },
  };
}

// The OpenAPI paths of insight: reports, cost, the live board, customer 360, suggestions and summaries
// (reportRoutes.ts, contactRoutes.ts). Query schemas are core's, so the document says what the routes parse.
import { COST_GROUPS, VOLUME_GROUPS, Pricing, ReportQuery, SENTIMENTS, TIMESERIES_METRICS } from '@goutong/core';
import { js } from '../jsonSchema.js';

type Helpers = {
  ok: (schema: unknown, description?: string) => Record<string, unknown>;
  errors: Record<string, unknown>;
  json: (schema: unknown) => Record<string, unknown>;
  ref: (name: string) => Record<string, unknown>;
  bearer: Array<Record<string, unknown[]>>;
  idParam: Record<string, unknown>;
};
const q = (name: string, schema: Record<string, unknown>, description: string, required = false) => ({ name, in: 'query', required, description, schema });

const dist = { type: 'object', properties: { count: { type: 'integer' }, medianS: { type: ['number', 'null'] }, p90S: { type: ['number', 'null'] } } };
const counts = (...names: string[]) => ({ type: 'object', properties: Object.fromEntries(names.map((n) => [n, { type: 'integer' }])) });

export function insightOpenApiPaths(h: Helpers): Record<string, unknown> {
  const { ok, json, bearer, idParam } = h;
  const reportParams = (() => {
    const s = js(ReportQuery) as { properties?: Record<string, Record<string, unknown>> };
    return Object.entries(s.properties ?? {}).map(([name, schema]) => ({ name, in: 'query', required: name === 'from' || name === 'to', schema }));
  })();
  const overview = {
    type: 'object',
    properties: {
      from: { type: 'integer' }, to: { type: 'integer' }, tz: { type: 'string' },
      conversations: counts('opened', 'resolved', 'reopened', 'transfers'),
      messages: counts('in', 'out'),
      firstResponse: dist, nextResponse: dist, resolution: dist,
      wallClock: { type: 'object', properties: { firstResponse: dist, nextResponse: dist, resolution: dist } },
      rates: { type: 'object', properties: { resolution: { type: ['number', 'null'] }, reopen: { type: ['number', 'null'] }, transfer: { type: ['number', 'null'] } } },
      calls: { type: 'object', properties: { total: { type: 'integer' }, missed: { type: 'integer' }, abandoned: { type: 'integer', description: 'missed calls whose caller hung up waiting in a queue' }, handle: dist } },
      csat: { type: ['object', 'null'], properties: { responses: { type: 'integer' }, average: { type: ['number', 'null'] } } },
      sla: {
        type: ['object', 'null'],
        description: 'Of the conversations under an SLA policy resolved in the period, how many met every target; breaches of each target in the period',
        properties: { resolved: { type: 'integer' }, met: { type: 'integer' }, compliance: { type: ['number', 'null'] }, breaches: counts('first_response', 'next_response', 'resolution') },
      },
      cost: {
        type: 'object',
        properties: {
          total: { type: 'number' }, currency: { type: 'string' }, byChannel: { type: 'object', additionalProperties: { type: 'number' } },
          perResolved: { type: ['number', 'null'] }, perConversation: { type: ['number', 'null'] }, perContact: { type: ['number', 'null'] },
        },
      },
      previous: { description: 'The same figures for the previous period of equal length (compare=previous), else null' },
    },
  };
  const csv = { description: 'With `Accept: text/csv` (or `format=csv`): the same table as CSV (needs data.export; audited)' };
  return {
    '/api/v1/reports/overview': {
      get: { summary: `Key figures of a period from rollups (supervisors, admins). ${csv.description}`, security: bearer, parameters: reportParams, responses: ok(overview) },
    },
    '/api/v1/reports/timeseries': {
      get: {
        summary: 'One metric per hour or local day of the time zone', security: bearer,
        parameters: [...reportParams, q('metric', { type: 'string', enum: [...TIMESERIES_METRICS] }, 'what to count', true), q('interval', { type: 'string', enum: ['hour', 'day'] }, 'bucket size')],
        responses: ok({ type: 'object', properties: { metric: { type: 'string' }, interval: { type: 'string' }, tz: { type: 'string' }, points: { type: 'array', items: { type: 'object', properties: { t: { type: 'integer' }, v: { type: 'number' } } } } } }),
      },
    },
    '/api/v1/reports/agents': {
      get: { summary: 'Per-agent figures of the period', security: bearer, parameters: reportParams, responses: ok({ type: 'object', properties: { items: { type: 'array', items: { type: 'object' } } } }) },
    },
    '/api/v1/reports/volume': {
      get: {
        summary: `Conversations opened and resolved, messages in and out, calls and missed calls by channel, inbox, team, agent (busiest first) or local hour of day (all 24, in the query's time zone), from the hourly rollups. ${csv.description}`, security: bearer,
        parameters: [...reportParams, q('groupBy', { type: 'string', enum: [...VOLUME_GROUPS], default: 'channel' }, 'the breakdown')],
        responses: ok({ type: 'object', properties: { groupBy: { type: 'string' }, tz: { type: 'string' }, items: { type: 'array', items: { type: 'object', properties: { key: { type: 'string' }, label: { type: ['string', 'null'] }, conversationsOpened: { type: 'integer' }, conversationsResolved: { type: 'integer' }, messagesIn: { type: 'integer' }, messagesOut: { type: 'integer' }, calls: { type: 'integer' }, missedCalls: { type: 'integer' } } } } } }),
      },
    },
    '/api/v1/reports/csat': {
      get: {
        summary: `Customer satisfaction in the period: surveys sent, answers, response rate, average, share of 4–5 ratings, answers per rating (1–5), per agent, and the latest comments (masked by role). CSV: per agent. ${csv.description}`, security: bearer,
        parameters: reportParams,
        responses: ok({ type: 'object', properties: { sent: { type: 'integer' }, responses: { type: 'integer' }, responseRate: { type: ['number', 'null'] }, average: { type: ['number', 'null'] }, satisfied: { type: ['number', 'null'] }, distribution: { type: 'array', items: { type: 'integer' }, minItems: 5, maxItems: 5 }, agents: { type: 'array', items: { type: 'object' } }, comments: { type: 'array', items: { type: 'object' } } } }),
      },
    },
    '/api/v1/reports/costs': {
      get: {
        summary: `What each conversation, contact, inbox, team or channel cost in the period, most expensive first (exact to the micro-unit). ${csv.description}`, security: bearer,
        parameters: [...reportParams, q('groupBy', { type: 'string', enum: [...COST_GROUPS], default: 'conversation' }, 'the breakdown'), q('limit', { type: 'integer', minimum: 1, maximum: 1000, default: 50 }, 'rows')],
        responses: ok({ type: 'object', properties: { groupBy: { type: 'string' }, currency: { type: 'string' }, items: { type: 'array', items: { type: 'object', properties: { key: { type: 'string' }, label: { type: ['string', 'null'] }, cost: { type: 'number' }, items: { type: 'integer' } } } } } }),
      },
    },
    '/api/v1/reports/live': {
      get: {
        summary: 'The live board (core liveBoard): per queue open, awaiting reply, unassigned, pending, snoozed and the longest wait; agents with availability and load. Supervisors\' devices compute the same from synced facts.',
        security: bearer, responses: ok({ type: 'object', properties: { at: { type: 'integer' }, totals: { type: 'object' }, queues: { type: 'array', items: { type: 'object' } }, agents: { type: 'array', items: { type: 'object' } } } }),
      },
    },
    '/api/v1/reports/budget': { get: { summary: 'This month\'s spending against the monthly budget', security: bearer, responses: ok({ type: 'object', properties: { currency: { type: 'string' }, monthly: { type: ['number', 'null'] }, spent: { type: 'number' }, exceeded: { type: 'boolean' } } }) } },
    '/api/v1/settings/pricing': {
      get: { summary: 'Prices per channel and provider, currency, monthly budget (supervisors, admins)', security: bearer, responses: ok(js(Pricing)) },
      put: { summary: 'Set the prices (settings.manage; audited)', security: bearer, requestBody: { required: true, content: json(js(Pricing)) }, responses: ok(js(Pricing)) },
    },
    '/api/v1/contacts': {
      get: { summary: 'Contacts in scope, searched across names, identities and attributes (masked without pii.view)', security: bearer, parameters: [q('q', { type: 'string' }, 'search text'), q('limit', { type: 'integer' }, 'page size'), q('offset', { type: 'integer' }, 'page start')], responses: ok({ type: 'object', properties: { items: { type: 'array', items: h.ref('Contact') }, nextOffset: { type: ['integer', 'null'] } } }) },
    },
    '/api/v1/contacts/{id}/timeline': { get: { summary: 'Every conversation, call, note and CSAT of a contact across channels, newest first', security: bearer, parameters: [idParam, q('before', { type: 'integer' }, 'cursor'), q('limit', { type: 'integer' }, 'page size')], responses: ok({ type: 'object' }) } },
    '/api/v1/contacts/{id}/merge-suggestions': { get: { summary: 'Contacts that share an identity with this one (suggested merges)', security: bearer, parameters: [idParam], responses: ok({ type: 'object' }) } },
    '/api/v1/contacts/{id}/merge': { post: { summary: 'Merge another contact into this one (undoable; every message kept)', security: bearer, parameters: [idParam], requestBody: { required: true, content: json({ type: 'object', properties: { otherId: { type: 'string' } }, required: ['otherId'] }) }, responses: ok({ type: 'object' }) } },
    '/api/v1/contacts/{id}/merges': { get: { summary: 'The merges into this contact', security: bearer, parameters: [idParam], responses: ok({ type: 'object' }) } },
    '/api/v1/contacts/{id}/unmerge': { post: { summary: 'Undo a merge', security: bearer, parameters: [idParam], requestBody: { required: true, content: json({ type: 'object', properties: { mergeId: { type: 'string' } }, required: ['mergeId'] }) }, responses: ok({ type: 'object' }) } },
    '/api/v1/conversations/{id}/suggestions': { get: { summary: 'Suggested replies (canned responses and the team\'s past answers, BM25 with picks)', security: bearer, parameters: [idParam], responses: ok({ type: 'object', properties: { query: { type: 'string' }, items: { type: 'array', items: { type: 'object', properties: { key: { type: 'string' }, text: { type: 'string' }, source: { type: 'string', enum: ['canned', 'history'] }, score: { type: 'number' } } } } } }) } },
    '/api/v1/conversations/{id}/suggestions/pick': { post: { summary: 'The agent used a suggestion (it ranks higher next time)', security: bearer, parameters: [idParam], requestBody: { required: true, content: json({ type: 'object', properties: { key: { type: 'string' } }, required: ['key'] }) }, responses: { '204': { description: 'Recorded' }, ...h.errors } } },
    '/api/v1/conversations/{id}/summary': {
      get: {
        summary: `An extractive summary of the conversation (core summarizeConversation over its latest 500 messages; masked without pii.view). Conversations carry \`sentiment\` (${SENTIMENTS.join(', ')}) of the customer's latest text message, and inbound messages \`meta.sentiment\`.`,
        security: bearer, parameters: [idParam],
        responses: ok({ type: 'object', properties: { worthIt: { type: 'boolean' }, messages: { type: 'integer' }, sentences: { type: 'integer' }, points: { type: 'array', items: { type: 'object', properties: { messageId: { type: 'string' }, role: { type: 'string', enum: ['customer', 'agent', 'note'] }, text: { type: 'string' }, at: { type: 'integer' } } } } } }),
      },
    },
  };
}

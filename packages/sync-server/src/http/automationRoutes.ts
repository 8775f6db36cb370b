import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { AutomationRule, AutomationRuleInput, CsatAnswer, Id, MessageTemplate, TemplateInput } from '@goutong/core';
import type { AuthService } from '../auth/service.js';
import type { Workspace } from '../domain/workspace.js';
import { AutomationRules, webhookJobsOf } from '../domain/automation.js';
import { Templates } from '../domain/templates.js';
import { answerSurvey, csatAnswers, surveyByToken } from '../domain/csat.js';
import { ApiError, notFound } from '../errors.js';
import type { InboxAdmin } from '../channels/inboxAdmin.js';
import { voicemailGreeting } from '../domain/automation.js';
import { timingSafeEqual } from 'node:crypto';
import type { ServerClock } from '../ops/clock.js';
import { agentOf, parse, requireAgent, requireRole } from './app.js';
import { js, json } from '../jsonSchema.js';

const IdParam = z.object({ id: Id });
const TokenParam = z.object({ token: z.string().regex(/^[A-Za-z0-9_-]{16,64}$/, 'not a survey token') });
/** The survey form's fields (a browser form posts them urlencoded; a script may post JSON). */
const CsatForm = z.object({ rating: z.coerce.number().int().min(1).max(5), comment: z.string().max(2000).optional(), lang: z.enum(['en', 'zh-CN']).optional() });

/**
 * Templates, automation rules (admins) and the customer's public CSAT survey page.
 *  - /api/v1/templates: named messages in en/zh-CN with {{variables}} (unknown variables → 400).
 *  - /api/v1/automation-rules: "when event, if conditions, then actions", in `position` order.
 *  - GET/POST /csat/{token}: the survey page (1-5 stars and a comment, zh/en), no login.
 */
export function registerAutomationRoutes(app: FastifyInstance, d: { auth: AuthService; workspace: Workspace; clock: ServerClock; inboxes: InboxAdmin }): void {
  const ws = d.workspace;
  const templates = new Templates(ws.db, () => d.clock.now());
  const rules = new AutomationRules(ws.db, () => d.clock.now());
  const authed = { preHandler: requireAgent(d.auth) };
  const admin = (req: Parameters<typeof agentOf>[0]) => {
    const a = agentOf(req);
    requireRole(a, ['admin']);
    return { tenantId: a.tenantId, agentId: a.id };
  };

  // ----- templates ------------------------------------------------------------------
  app.get('/api/v1/templates', authed, async (req) => ({ items: await templates.list(agentOf(req).tenantId) }));
  app.get('/api/v1/templates/:id', authed, async (req) => templates.get(agentOf(req).tenantId, parse(IdParam, req.params, 'path').id));
  app.post('/api/v1/templates', authed, async (req, reply) => {
    const actor = admin(req);
    return reply.status(201).send(await templates.create(actor, ws.ids.next(), parse(TemplateInput.strict(), req.body, 'template')));
  });
  app.patch('/api/v1/templates/:id', authed, async (req) => {
    const actor = admin(req);
    return templates.update(actor, parse(IdParam, req.params, 'path').id, parse(TemplateInput.partial().strict(), req.body, 'template'));
  });
  app.delete('/api/v1/templates/:id', authed, async (req, reply) => {
    const actor = admin(req);
    await templates.remove(actor, parse(IdParam, req.params, 'path').id);
    return reply.status(204).send();
  });

  // ----- automation rules -----------------------------------------------------------------
  app.get('/api/v1/automation-rules', authed, async (req) => {
    const actor = admin(req);
    return { items: await rules.list(actor.tenantId) };
  });
  app.get('/api/v1/automation-rules/:id', authed, async (req) => rules.get(admin(req).tenantId, parse(IdParam, req.params, 'path').id));
  app.post('/api/v1/automation-rules', authed, async (req, reply) => {
    const actor = admin(req);
    return reply.status(201).send(await rules.create(actor, ws.ids.next(), parse(AutomationRuleInput.strict(), req.body, 'automation rule')));
  });
  app.patch('/api/v1/automation-rules/:id', authed, async (req) => {
    const actor = admin(req);
    const body = parse(AutomationRuleInput.partial().strict(), req.body, 'automation rule');
    return rules.update(actor, parse(IdParam, req.params, 'path').id, body);
  });
  app.post('/api/v1/automation-rules/reorder', authed, async (req) => {
    const actor = admin(req);
    const { ids } = parse(z.object({ ids: z.array(Id).max(1000) }).strict(), req.body, 'order');
    return { items: await rules.reorder(actor, ids) };
  });
  app.delete('/api/v1/automation-rules/:id', authed, async (req, reply) => {
    const actor = admin(req);
    await rules.remove(actor, parse(IdParam, req.params, 'path').id);
    return reply.status(204).send();
  });
  app.get('/api/v1/automation-webhook-jobs', authed, async (req) => ({ items: await webhookJobsOf(ws.db, admin(req).tenantId) }));

  // ----- voice: the voicemail greeting speaks the inbox's auto-reply ----------------------------
  app.get('/api/v1/inboxes/:id/voicemail-greeting', async (req) => {
    const { id } = parse(IdParam, req.params, 'path');
    const q = parse(z.object({ from: z.string().trim().max(64).optional() }), req.query, 'query');
    const settings = await d.inboxes.settings(id);
    const token = /^Bearer (.+)$/i.exec(String(req.headers.authorization ?? ''))?.[1];
    const expected = settings?.secrets['voicemailToken'];
    if (!settings || settings.inbox.channel !== 'voice' || !expected || !token || !safeEqual(token, expected)) throw new ApiError('unauthorized', 'send the inbox\'s voicemail token as a bearer token');
    return (await voicemailGreeting(ws.db, settings.inbox, q.from ?? null, d.clock.now())) ?? { kind: null, text: null };
  });

  // ----- CSAT -------------------------------------------------------------------------------
  app.get('/api/v1/csat', authed, async (req) => {
    const a = agentOf(req);
    requireRole(a, ['admin', 'supervisor']);
    return { items: await csatAnswers(ws.db, a.tenantId) };
  });
  const page = async (token: string, lang: 'en' | 'zh-CN', reply: FastifyReply, note?: string) => {
    const survey = await surveyByToken(ws.db, token);
    if (!survey) throw notFound('this survey link is not valid');
    reply.header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-store').header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'");
    return reply.send(surveyHtml(lang, { answered: survey.answeredAt !== null, expired: survey.expiresAt <= d.clock.now(), rating: survey.rating, note }));
  };
  app.get('/csat/:token', async (req, reply) => {
    const { token } = parse(TokenParam, req.params, 'path');
    const q = parse(z.object({ lang: z.enum(['en', 'zh-CN']).optional() }), req.query, 'query');
    return page(token, q.lang ?? preferredLanguage(req.headers['accept-language']), reply);
  });
  app.post('/csat/:token', async (req, reply) => {
    const { token } = parse(TokenParam, req.params, 'path');
    const raw = typeof req.body === 'string' ? Object.fromEntries(new URLSearchParams(req.body)) : req.body;
    const form = parse(CsatForm, raw, 'survey answer');
    const lang = form.lang ?? preferredLanguage(req.headers['accept-language']);
    const written = await answerSurvey(ws, token, CsatAnswer.parse({ rating: form.rating, comment: form.comment?.trim() || null }), d.clock.now());
    const accept = String(req.headers['accept'] ?? '');
    if (accept.includes('application/json')) return written ? { ok: true } : reply.status(409).send({ error: { code: 'conflict', message: 'this survey was answered already' } });
    return page(token, lang, reply, written ? undefined : 'already');
  });
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function preferredLanguage(header: string | string[] | undefined): 'en' | 'zh-CN' {
  const h = Array.isArray(header) ? header.join(',') : header ?? '';
  return /^\s*zh/i.test(h) ? 'zh-CN' : 'en';
}

const TEXT = {
  en: { title: 'How did we do?', comment: 'Comment (optional)', send: 'Send', thanks: 'Thank you for your feedback!', expired: 'This survey has expired.', stars: ['Very poor', 'Poor', 'OK', 'Good', 'Excellent'], already: 'This survey was answered already.' },
  'zh-CN': { title: '请为本次服务评分', comment: '意见（可选）', send: '提交', thanks: '感谢您的反馈！', expired: '此调查已过期。', stars: ['很差', '较差', '一般', '满意', '非常满意'], already: '此调查已经提交过了。' },
} as const;

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The survey page: five radio "stars" and a comment box; no script, no external resources. */
export function surveyHtml(lang: 'en' | 'zh-CN', s: { answered: boolean; expired: boolean; rating: number | null; note?: string | undefined }): string {
  const t = TEXT[lang];
  let body: string;
  if (s.answered) body = `<p class="done">${esc(s.note === 'already' ? t.already : t.thanks)}</p><p class="stars">${'★'.repeat(s.rating ?? 0)}${'☆'.repeat(5 - (s.rating ?? 0))}</p>`;
  else if (s.expired) body = `<p>${esc(t.expired)}</p>`;
  else {
    const stars = [5, 4, 3, 2, 1].map((n) => `<input type="radio" id="r${n}" name="rating" value="${n}" required><label for="r${n}" title="${esc(t.stars[n - 1]!)}">★</label>`).join('');
    body = `<form method="post"><input type="hidden" name="lang" value="${lang}"><div class="rate">${stars}</div>
<label class="c">${esc(t.comment)}<textarea name="comment" maxlength="2000" rows="4"></textarea></label><button type="submit">${esc(t.send)}</button></form>`;
  }
  return `<!doctype html><html lang="${lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${esc(t.title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#222}h1{font-size:1.3rem}
.rate{display:flex;flex-direction:row-reverse;justify-content:flex-end;font-size:2.2rem}.rate input{display:none}.rate label{color:#ccc;cursor:pointer;padding:0 .1rem}
.rate input:checked~label,.rate label:hover,.rate label:hover~label{color:#f5a623}.c{display:block;margin:1rem 0}textarea{width:100%;box-sizing:border-box}
button{padding:.5rem 1.5rem;font-size:1rem}.stars{font-size:2rem;color:#f5a623}</style></head>
<body><h1>${esc(t.title)}</h1>${body}</body></html>`;
}


// ----- OpenAPI (spread into http/openapi.ts) ------------------------------------------------

/** The automation area's schemas and paths, from the same zod schemas that validate the requests. */
export function automationOpenApi(): { schemas: Record<string, unknown>; paths: Record<string, unknown> } {
  const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
  const err = Object.fromEntries((['400', '401', '403', '404', '409'] as const).map((c) => [c, { description: { '400': 'Invalid input (unknown variable, team, agent or template…)', '401': 'Not signed in', '403': 'Admins only', '404': 'Unknown id', '409': 'Conflict (a template in use, a name taken, a survey answered)' }[c], content: json(ref('Error')) }]));
  const ok = (schema: unknown, code = '200') => ({ [code]: { description: code === '201' ? 'Created' : 'OK', content: json(schema) }, ...err });
  const bearer = [{ bearer: [] }];
  const id = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
  const list = (name: string) => ({ type: 'object', properties: { items: { type: 'array', items: ref(name) } } });
  return {
    schemas: {
      MessageTemplate: js(MessageTemplate),
      TemplateInput: js(TemplateInput),
      AutomationRule: js(AutomationRule),
      AutomationRuleInput: js(AutomationRuleInput),
      CsatAnswer: js(CsatAnswer),
    },
    paths: {
      '/api/v1/templates': {
        get: { summary: 'Message templates (en/zh-CN, {{variables}})', security: bearer, responses: ok(list('MessageTemplate')) },
        post: { summary: 'Create a template (admins; unknown variables → 400)', security: bearer, requestBody: { required: true, content: json(ref('TemplateInput')) }, responses: ok(ref('MessageTemplate'), '201') },
      },
      '/api/v1/templates/{id}': {
        get: { summary: 'A template', security: bearer, parameters: [id], responses: ok(ref('MessageTemplate')) },
        patch: { summary: 'Update a template (admins)', security: bearer, parameters: [id], requestBody: { required: true, content: json(ref('TemplateInput')) }, responses: ok(ref('MessageTemplate')) },
        delete: { summary: 'Delete a template nobody uses (409 names the rules/inboxes using it)', security: bearer, parameters: [id], responses: { '204': { description: 'Deleted' }, ...err } },
      },
      '/api/v1/automation-rules': {
        get: { summary: 'Automation rules in position order (webhook secrets masked)', security: bearer, responses: ok(list('AutomationRule')) },
        post: { summary: 'Create a rule: when event, if conditions, then actions (admins; unknown teams/agents/templates → 400)', security: bearer, requestBody: { required: true, content: json(ref('AutomationRuleInput')) }, responses: ok(ref('AutomationRule'), '201') },
      },
      '/api/v1/automation-rules/{id}': {
        get: { summary: 'A rule', security: bearer, parameters: [id], responses: ok(ref('AutomationRule')) },
        patch: { summary: 'Update a rule (fields sent replace; enabling checks its references again)', security: bearer, parameters: [id], requestBody: { required: true, content: json(ref('AutomationRuleInput')) }, responses: ok(ref('AutomationRule')) },
        delete: { summary: 'Delete a rule', security: bearer, parameters: [id], responses: { '204': { description: 'Deleted' }, ...err } },
      },
      '/api/v1/automation-rules/reorder': {
        post: { summary: 'Set the order of every rule', security: bearer, requestBody: { required: true, content: json({ type: 'object', properties: { ids: { type: 'array', items: { type: 'string' } } }, required: ['ids'] }) }, responses: ok(list('AutomationRule')) },
      },
      '/api/v1/automation-webhook-jobs': { get: { summary: 'Recent webhook calls of the rules (state, attempts, last error)', security: bearer, responses: ok({ type: 'object' }) } },
      '/api/v1/inboxes/{id}/voicemail-greeting': { get: { summary: 'Voice: the greeting text for a caller (out of hours / acknowledgement, caller\'s language); bearer = the inbox\'s voicemailToken', parameters: [id, { name: 'from', in: 'query', required: false, schema: { type: 'string' } }], responses: ok({ type: 'object', properties: { kind: { type: ['string', 'null'] }, language: { type: 'string' }, text: { type: ['string', 'null'] } } }) } },
      '/api/v1/csat': { get: { summary: 'CSAT answers (admins, supervisors): rating, comment, conversation and the agent it counts for', security: bearer, responses: ok({ type: 'object' }) } },
      '/csat/{token}': {
        get: { summary: 'The public survey page (zh-CN/en by ?lang= or Accept-Language)', parameters: [{ name: 'token', in: 'path', required: true, schema: { type: 'string' } }], responses: { '200': { description: 'HTML page', content: { 'text/html': { schema: { type: 'string' } } } }, ...err } },
        post: { summary: 'Answer the survey once (form or JSON: rating 1-5, comment)', parameters: [{ name: 'token', in: 'path', required: true, schema: { type: 'string' } }], requestBody: { required: true, content: { 'application/x-www-form-urlencoded': { schema: ref('CsatAnswer') }, ...json(ref('CsatAnswer')) } }, responses: { '200': { description: 'Thank-you page (or {ok:true} with Accept: application/json)' }, ...err } },
      },
    },
  };
}

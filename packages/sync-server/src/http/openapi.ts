import { z } from 'zod';
import {
  Agent,
  AgentRoutingPatch,
  Attachment,
  CannedResponse,
  CommandBatchResponse,
  Command,
  Contact,
  Conversation,
  ErrorBody,
  Inbox,
  LoginRequest,
  Message,
  MessagePage,
  PullRequest,
  PullResponse,
  RefreshRequest,
  Team,
  TokenResponse,
  BusinessHours,
  BusinessHoursInput,
  LifecycleSettings,
  SlaPolicy,
  SlaPolicyInput,
} from '@goutong/core';
import { ConversationListQuery, PageQuery, PatchConversationBody, SendMessageBody } from './schemas.js';
import { CreateInboxBody, UpdateInboxBody } from '../channels/inboxAdmin.js';
import { slaOpenApiPaths } from './slaOpenApi.js';
import { ProviderRegistry, providerKey } from '../channels/provider.js';
import { builtinExtensions } from '../channels/registry.js';
import { trustOpenApiPaths } from './trustRoutes.js';
import { automationOpenApi } from './automationRoutes.js';
import { accountsPaths } from './accountsOpenapi.js';
import { insightOpenApiPaths } from './insightOpenApi.js';
import { fieldsOpenApiPaths } from './fieldsOpenApi.js';
import { searchOpenApi } from './searchRoutes.js';
import { composerOpenApi } from './composerRoutes.js';
import { js, json } from '../jsonSchema.js';
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const errors = Object.fromEntries(
  ([['400', 'Invalid input'], ['401', 'Missing, invalid or expired token'], ['403', 'Not allowed'], ['404', 'Unknown id (or another tenant\'s)'], ['409', 'Conflict'], ['413', 'Body over 1 MiB'], ['426', 'The Goutong-Protocol header names another major protocol version: update the client'], ['429', 'Too many requests']] as const).map(([c, d]) => [
    c,
    { description: d, content: json(ref('Error')) },
  ]),
);
const ok = (schema: unknown, description = 'OK') => ({ '200': { description, content: json(schema) }, ...errors });
const bearer = [{ bearer: [] }];
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };

function queryParams(schema: z.ZodObject) {
  const s = js(schema) as { properties: Record<string, unknown> };
  return Object.entries(s.properties).map(([name, schema]) => ({ name, in: 'query', required: false, schema }));
}

const cache = new WeakMap<ProviderRegistry, Map<string, Record<string, unknown>>>();
let builtins: ProviderRegistry | null = null;

/**
 * Each extension's part of the document: `Provider.<channel>[/<provider>].config|secrets` (the
 * zod schemas with their en/zh-CN titles, which the admin forms read) and its routes' paths.
 */
function extensionParts(registry: ProviderRegistry): { schemas: Record<string, unknown>; paths: Record<string, unknown> } {
  const schemas: Record<string, unknown> = {};
  const paths: Record<string, unknown> = {};
  for (const p of registry.providers()) {
    const key = providerKey(p);
    schemas[`Provider.${key}.config`] = js(p.configSchema);
    schemas[`Provider.${key}.secrets`] = js(p.secretsSchema);
  }
  for (const e of registry.all()) Object.assign(paths, e.openapi ?? {});
  return { schemas, paths };
}

/**
 * The OpenAPI 3.1 document, generated from the same zod schemas that validate requests and from the
 * server's extensions (providers' config/secrets schemas and webhook routes).
 */
export function buildOpenApi(version: string, registry?: ProviderRegistry): Record<string, unknown> {
  const reg = registry ?? (builtins ??= builtinExtensions().reduce((r, e) => r.register(e), new ProviderRegistry()));
  let byVersion = cache.get(reg);
  if (!byVersion) cache.set(reg, (byVersion = new Map()));
  const hit = byVersion.get(version);
  if (hit) return hit;
  const ext = extensionParts(reg);
  const doc = {
    openapi: '3.1.0',
    info: {
      title: 'Goutong API',
      version,
      description:
        'REST API of the Goutong sync server. Times are milliseconds since the Unix epoch. Errors are `{error:{code,message}}`. ' +
        'Clients send their protocol version in the `Goutong-Protocol` header (every answer carries the server\'s); another major version is refused with 426. ' +
        'The sync socket is `GET /sync` (WebSocket): send `{"t":"auth","token":…,"v":1}` first (another major version closes it with 4426); see PROTOCOL.md.',
    },
    servers: [{ url: '/' }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      schemas: {
        Error: js(ErrorBody),
        Agent: js(Agent),
        Team: js(Team),
        Inbox: js(Inbox),
        Contact: js(Contact),
        Conversation: js(Conversation),
        Message: js(Message),
        Command: js(Command),
        TokenResponse: js(TokenResponse),
        PullResponse: js(PullResponse),
        CommandBatchResponse: js(CommandBatchResponse),
        BusinessHours: js(BusinessHours), BusinessHoursInput: js(BusinessHoursInput), SlaPolicy: js(SlaPolicy), SlaPolicyInput: js(SlaPolicyInput), LifecycleSettings: js(LifecycleSettings),
        ...searchOpenApi(errors).schemas, // [search]
        // Inbox `config` and `secrets` per channel/provider (secrets are stored sealed and never returned).
        ...ext.schemas,
        ...automationOpenApi().schemas, // [automation]
        ...composerOpenApi().schemas, // [composer]
      },
    },
    paths: {
      '/healthz': { get: { summary: 'Liveness', responses: { '200': { description: 'OK', content: json({ type: 'object', properties: { status: { const: 'ok' } } }) } } } },
      '/api/v1/auth/login': { post: { summary: 'Log in with e-mail and password', requestBody: { required: true, content: json(js(LoginRequest)) }, responses: ok(ref('TokenResponse')) } },
      '/api/v1/auth/refresh': { post: { summary: 'Rotate the refresh token, get a new access token', requestBody: { required: true, content: json(js(RefreshRequest)) }, responses: ok(ref('TokenResponse')) } },
      '/api/v1/auth/logout': { post: { summary: 'Revoke the refresh token family', requestBody: { required: true, content: json(js(RefreshRequest)) }, responses: { '204': { description: 'Logged out' }, ...errors } } },
      '/api/v1/me': { get: { summary: 'The signed-in agent and tenant', security: bearer, responses: ok({ type: 'object' }) } },
      '/api/v1/inboxes': {
        get: { summary: 'Inboxes in the caller\'s scope', security: bearer, responses: ok({ type: 'object', properties: { items: { type: 'array', items: ref('Inbox') } } }) },
        post: {
          summary: 'Create an inbox (admin). `config` and `secrets` per provider are the `Provider.<channel>[/<provider>].config|secrets` schemas; an api inbox\'s signing secret is generated when absent and returned once; other secrets a provider generates when absent (callback tokens) are returned once as `generatedSecrets`. `GET` shows each inbox\'s `urls` to configure at the provider.',
          security: bearer,
          requestBody: { required: true, content: json(js(CreateInboxBody)) },
          responses: { '201': { description: 'Created', content: json(ref('Inbox')) }, ...errors },
        },
      },
      '/api/v1/inboxes/{id}': {
        get: { summary: 'One inbox (secrets are never returned, only their names)', security: bearer, parameters: [idParam], responses: ok(ref('Inbox')) },
        patch: { summary: 'Update an inbox (admin)', security: bearer, parameters: [idParam], requestBody: { required: true, content: json(js(UpdateInboxBody)) }, responses: ok(ref('Inbox')) },
      },
      '/api/v1/agents': { get: { summary: 'Agents of the tenant', security: bearer, responses: ok({ type: 'object', properties: { items: { type: 'array', items: ref('Agent') } } }) } },
      '/api/v1/teams': { get: { summary: 'Teams of the tenant', security: bearer, responses: ok({ type: 'object', properties: { items: { type: 'array', items: ref('Team') } } }) } },
      '/api/v1/contacts/{id}': { get: { summary: 'A contact in scope', security: bearer, parameters: [idParam], responses: ok(ref('Contact')) } },
      '/api/v1/contacts/{id}/opt-in': { post: { summary: 'Clear a contact\'s SMS opt-out (admins only, audited)', security: bearer, parameters: [idParam], responses: ok(ref('Contact')) } },
      '/api/v1/conversations': {
        get: {
          summary: 'Conversations in scope, most recent activity first. status is a comma-separated list; assigneeId accepts an id, `me` or `none`.',
          security: bearer,
          parameters: queryParams(ConversationListQuery),
          responses: ok({ type: 'object', properties: { items: { type: 'array', items: ref('Conversation') }, nextCursor: { type: ['string', 'null'] } } }),
        },
      },
      '/api/v1/conversations/{id}': {
        get: { summary: 'One conversation', security: bearer, parameters: [idParam], responses: ok(ref('Conversation')) },
        patch: { summary: 'Change status, priority, assignee, team or labels (each change is a command and a fact)', security: bearer, parameters: [idParam], requestBody: { required: true, content: json(js(PatchConversationBody)) }, responses: ok(ref('Conversation')) },
      },
      '/api/v1/conversations/{id}/messages': {
        get: { summary: 'Messages, newest first, by page', security: bearer, parameters: [idParam, ...queryParams(PageQuery)], responses: ok(js(MessagePage)) },
        post: {
          summary: 'Send a reply (or a note with kind=note). Repeating the Idempotency-Key returns the same message and sends nothing twice.',
          security: bearer,
          parameters: [idParam, { name: 'Idempotency-Key', in: 'header', required: true, schema: { type: 'string', maxLength: 255 } }],
          requestBody: { required: true, content: json(js(SendMessageBody)) },
          responses: { '201': { description: 'Created', content: json(ref('Message')) }, '200': { description: 'Repeated key: the original message', content: json(ref('Message')) }, ...errors },
        },
      },
      '/api/v1/commands': {
        post: {
          summary: 'Apply a batch of client commands in order (the outbox). Each is deduplicated by id and acknowledged after commit.',
          security: bearer,
          requestBody: { required: true, content: json({ type: 'object', properties: { commands: { type: 'array', items: ref('Command'), maxItems: 100 } }, required: ['commands'] }) },
          responses: ok(ref('CommandBatchResponse')),
        },
      },
      '/api/v1/sync/pull': { post: { summary: 'Replication pull: facts in scope after a checkpoint', security: bearer, requestBody: { required: true, content: json(js(PullRequest)) }, responses: ok(ref('PullResponse')) } },
      '/api/v1/attachments': {
        post: {
          summary: 'Upload a file: the raw bytes as the body (content-type = the file type), `?name=` the file name; up to 25 MiB. Returns metadata with a signed `url`. Reference it by id in send_reply.',
          security: bearer,
          parameters: [{ name: 'name', in: 'query', required: true, schema: { type: 'string', maxLength: 255 } }],
          requestBody: { required: true, content: { '*/*': { schema: { type: 'string', format: 'binary' } } } },
          responses: { '201': { description: 'Stored', content: json(js(Attachment)) }, ...errors },
        },
      },
      '/api/v1/attachments/{id}': {
        get: {
          summary: 'Download (bearer token, or the signed `exp`+`sig` query); `inline=1` shows safe types inline',
          parameters: [idParam, { name: 'exp', in: 'query', schema: { type: 'string' } }, { name: 'sig', in: 'query', schema: { type: 'string' } }, { name: 'inline', in: 'query', schema: { enum: ['0', '1'] } }],
          responses: { '200': { description: 'The file' }, ...errors },
        },
      },
      '/api/v1/canned-responses': {
        get: { summary: 'Canned responses of the tenant', security: bearer, responses: ok({ type: 'object', properties: { items: { type: 'array', items: js(CannedResponse) } } }) },
        post: { summary: 'Create (admin, supervisor)', security: bearer, requestBody: { required: true, content: json(js(CannedResponse.pick({ shortCode: true, title: true, body: true }))) }, responses: { '201': { description: 'Created', content: json(js(CannedResponse)) }, ...errors } },
      },
      '/api/v1/canned-responses/{id}': {
        patch: { summary: 'Update (admin, supervisor)', security: bearer, parameters: [idParam], responses: ok(js(CannedResponse)) },
        delete: { summary: 'Delete (admin, supervisor)', security: bearer, parameters: [idParam], responses: { '204': { description: 'Deleted' }, ...errors } },
      },
      // [routing] availability, capacity, skills; the supervisors' queues
      '/api/v1/agents/{id}': { patch: { summary: 'Set an agent\'s availability (the agent themself; `me` names the caller), call state (`onCall`: busy during a call), capacity per channel, skills and languages (admins, for anyone)', security: bearer, parameters: [idParam], requestBody: { required: true, content: json(js(AgentRoutingPatch)) }, responses: ok(ref('Agent')) } },
      '/api/v1/agents/{id}/availability': { post: { summary: 'The same as PATCH /api/v1/agents/{id}, for clients that cannot send PATCH (WeChat mini programs)', security: bearer, parameters: [idParam], requestBody: { required: true, content: json(js(AgentRoutingPatch)) }, responses: ok(ref('Agent')) } },
      '/api/v1/routing/settings': {
        get: { summary: 'The tenant\'s routing settings (supervisors, admins): `graceMinutes`, how long an agent whose devices all went offline keeps their conversations; `source` says whether the environment (GOUTONG_ROUTING_GRACE_MS) overrides it', security: bearer, responses: ok({ type: 'object', properties: { graceMinutes: { type: 'number' }, source: { type: 'string', enum: ['environment', 'tenant', 'default'] } } }) },
        patch: { summary: 'Set the grace period (admins; 0 to 1440 minutes)', security: bearer, requestBody: { required: true, content: json({ type: 'object', properties: { graceMinutes: { type: 'number', minimum: 0, maximum: 1440 } }, required: ['graceMinutes'], additionalProperties: false }) }, responses: ok({ type: 'object' }) },
      },
      '/api/v1/queues': { get: { summary: 'Queues per inbox and team (supervisors, admins): waiting count, longest wait, the unassigned conversations, the agents in scope with availability, load and capacity. Re-route with PATCH /api/v1/conversations/{id} {assigneeId}', security: bearer, responses: ok({ type: 'object', properties: { items: { type: 'array', items: { type: 'object', properties: { scope: { type: 'string' }, inboxId: { type: 'string' }, inboxName: { type: 'string' }, teamId: { type: ['string', 'null'] }, strategy: { type: 'string', enum: ['manual', 'round_robin', 'least_loaded'] }, waiting: { type: 'integer' }, longestWaitMs: { type: 'integer' }, conversationIds: { type: 'array', items: { type: 'string' } }, unassigned: { type: 'array', items: { type: 'object' } }, agents: { type: 'array', items: { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' }, availability: { type: 'string', enum: ['online', 'busy', 'away', 'offline'] }, load: { type: 'integer' }, capacity: { type: ['integer', 'null'] } } } } } } }, calls: { type: 'array', description: 'Callers in the voice queues (IVR/ACD) per inbox and team: waiting, connected, longestWaitMs', items: { type: 'object', properties: { inboxId: { type: 'string' }, teamId: { type: ['string', 'null'] }, waiting: { type: 'integer' }, connected: { type: 'integer' }, longestWaitMs: { type: 'integer' } } } } } }) } },
      '/api/v1/openapi.json': { get: { summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1', content: json({ type: 'object' }) } } } },
      ...trustOpenApiPaths(), // [trust] roles, masking patterns, reveals, audit trail, API keys
      ...slaOpenApiPaths({ ok, errors, json, ref, bearer, idParam }),
      // The extensions' routes (webhooks, callbacks, upload and credential endpoints…).
      ...ext.paths,
      ...automationOpenApi().paths, // [automation] templates, automation rules, CSAT
      ...accountsPaths(),
      ...insightOpenApiPaths({ ok, errors, json, ref, bearer, idParam }), // [insight] reports, cost, live board, customer 360, suggestions, summaries
      ...searchOpenApi(errors).paths, // [search]
      ...composerOpenApi().paths, // [composer] macros, saved views
      ...fieldsOpenApiPaths({ ok, errors, json, bearer, idParam }), // [fields] custom contact fields, segments, offers
    },
  };
  byVersion.set(version, doc);
  return doc;
}

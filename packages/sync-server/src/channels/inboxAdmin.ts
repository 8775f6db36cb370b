import { z } from 'zod';
import { checkOpsTemplates } from '../domain/templates.js';
import { InboxCsat, AutoReplyMessage, Channel, DEFAULT_INBOX_OPS, Id, InboxRouting, type Agent, type Inbox, type InboxOps } from '@goutong/core';
import type { Workspace } from '../domain/workspace.js';
import { toInbox } from '../domain/rows.js';
import { createInbox, unknownTeam, updateInbox } from '../domain/inboxes.js';
import { businessHoursExists } from '../domain/businessHours.js';
import { badRequest, notFound, parse } from '../errors.js';
import { decryptSecret, encryptSecret, randomToken } from '../auth/crypto.js';
import { type AdminUrl, type ProviderRegistry } from './provider.js';
import { configUrlProblems } from '../net/egress.js';

export const CreateInboxBody = z.object({
  name: z.string().trim().min(1).max(200),
  channel: Channel,
  provider: z.string().min(1).max(64).optional(),
  config: z.record(z.string(), z.unknown()).default({}),
  /** Secret values (API keys, passwords); stored encrypted, never returned. */
  secrets: z.record(z.string(), z.string()).default({}),
  teamIds: z.array(Id).max(100).default([]),
});

export const UpdateInboxBody = z.object({
  name: z.string().trim().min(1).max(200).optional(),
  config: z.record(z.string(), z.unknown()).optional(),
  secrets: z.record(z.string(), z.string()).optional(),
  teamIds: z.array(Id).max(100).optional(),
  /** Service operations (InboxOps): each sent field replaces the stored one. */
  routing: InboxRouting.optional(),
  businessHoursId: Id.nullable().optional(),
  autoReply: z.object({ acknowledge: AutoReplyMessage.nullable().optional(), outOfHours: AutoReplyMessage.nullable().optional(), windowMinutes: z.number().int().min(1).max(60 * 24 * 30).optional() }).strict().optional(),
  /** [automation] CSAT survey settings; null turns them off. */
  csat: InboxCsat.nullable().optional(),
}).strict();

/** Provider API base URLs and webhook URLs may not point into the server's own network (400 when saved). */
async function refuseInternalUrls(config: unknown): Promise<void> {
  const problems = await configUrlProblems(config);
  if (problems.length) throw badRequest(`invalid config: ${problems.join('; ')}`, problems.map((p) => ({ path: [p.split(':')[0]!], message: p })));
}

/** Inbox configuration: validated per provider, secrets sealed with the server secret. */
export class InboxAdmin {
  constructor(private readonly ws: Workspace, readonly providers: ProviderRegistry, private readonly secret: string) {}

  private provider(channel: Inbox['channel'], name: string | null) {
    const p = this.providers.raw(channel, name);
    if (!p) {
      const known = this.providers.providers().filter((x) => x.channel === channel).map((x) => x.name);
      throw badRequest(`unknown provider "${name ?? channel}" for channel ${channel}; known: ${known.join(', ') || 'none'}`);
    }
    return p;
  }

  async create(agent: Agent, raw: unknown): Promise<Record<string, unknown>> {
    const body = parse(CreateInboxBody, raw, 'inbox');
    const providerName = body.provider ?? body.channel;
    const p = this.provider(body.channel, providerName);
    const secrets = { ...body.secrets };
    if (body.channel === 'api' && !secrets.secret) secrets.secret = randomToken(24);
    const config = parse(p.configSchema, body.config, 'config');
    await refuseInternalUrls(config);
    const sealed = parse(p.secretsSchema, secrets, 'secrets');
    // Secrets a provider generates when absent (a callback path token…) are shown once, like the api secret.
    const generated = Object.fromEntries(Object.entries(sealed).filter(([k]) => !(k in secrets)));
    await this.checkTeams(agent.tenantId, body.teamIds);
    const id = this.ws.ids.next();
    await createInbox(
      this.ws,
      { id, tenantId: agent.tenantId, name: body.name, channel: body.channel, provider: providerName, teamIds: body.teamIds, config, sealedSecrets: encryptSecret(this.secret, JSON.stringify(sealed)), createdAt: Date.now() },
      { agentId: agent.id, action: 'inbox.create', details: { name: body.name, channel: body.channel, provider: providerName } },
    );
    const inbox = (await this.ws.inbox(agent.tenantId, id))!;
    // The api inbox's signing secret is shown once, at creation.
    return {
      ...(await this.publicView(inbox)),
      ...(body.channel === 'api' && !body.secrets.secret ? { secret: secrets.secret } : {}),
      ...(Object.keys(generated).length ? { generatedSecrets: generated } : {}),
    };
  }

  async update(agent: Agent, id: string, raw: unknown): Promise<Record<string, unknown>> {
    const body = parse(UpdateInboxBody, raw, 'inbox');
    const cur = await this.settings(id);
    if (!cur || cur.inbox.tenantId !== agent.tenantId) throw notFound(`inbox ${id} not found`);
    const p = this.provider(cur.inbox.channel, cur.inbox.provider);
    // Merge semantics: fields not sent stay, a field sent as null is removed.
    const merged = Object.fromEntries(Object.entries({ ...cur.config, ...(body.config ?? {}) }).filter(([, v]) => v !== null));
    const config = body.config ? parse(p.configSchema, merged, 'config') : cur.config;
    if (body.config) await refuseInternalUrls(config);
    const secrets = body.secrets ? parse(p.secretsSchema, { ...cur.secrets, ...body.secrets }, 'secrets') : cur.secrets;
    if (body.teamIds) await this.checkTeams(agent.tenantId, body.teamIds);
    if (body.businessHoursId && !(await businessHoursExists(this.ws.db, agent.tenantId, body.businessHoursId))) throw badRequest(`business hours ${body.businessHoursId} not found`);
    const prevOps: InboxOps = cur.inbox.ops ?? DEFAULT_INBOX_OPS;
    const ops: InboxOps = {
      routing: body.routing ?? prevOps.routing,
      businessHoursId: body.businessHoursId !== undefined ? body.businessHoursId : prevOps.businessHoursId,
      autoReply: body.autoReply ? { ...prevOps.autoReply, ...body.autoReply } : prevOps.autoReply,
      ...(body.csat !== undefined ? (body.csat ? { csat: body.csat } : {}) : prevOps.csat ? { csat: prevOps.csat } : {}), // [automation]
    };
    await checkOpsTemplates(this.ws.db, agent.tenantId, ops); // [automation] unknown variables / templates → 400
    await updateInbox(
      this.ws,
      agent.tenantId,
      id,
      { name: body.name ?? cur.inbox.name, teamIds: body.teamIds ?? cur.inbox.teamIds, config, sealedSecrets: encryptSecret(this.secret, JSON.stringify(secrets)), ops },
      {
        agentId: agent.id, action: 'inbox.update',
        // [trust] config changes with before/after (secrets: only which changed, never their values)
        details: { fields: Object.keys(body), secretsChanged: Object.keys(body.secrets ?? {}), before: { name: cur.inbox.name, teamIds: cur.inbox.teamIds, config: cur.config, ops: prevOps }, after: { name: body.name ?? cur.inbox.name, teamIds: body.teamIds ?? cur.inbox.teamIds, config, ops } },
      },
    );
    return this.publicView((await this.ws.inbox(agent.tenantId, id))!);
  }

  /**
   * What the API shows of an inbox: its config, only the names of its secrets, and the URLs to
   * configure at the provider (declared by the provider; sealed secrets as `<name>` placeholders).
   */
  async publicView(inbox: Inbox): Promise<Record<string, unknown>> {
    const s = await this.settings(inbox.id);
    const config = s?.config ?? {};
    const p = this.providers.raw(inbox.channel, inbox.provider);
    let urls: AdminUrl[] = [];
    try {
      urls = p?.urls?.({ inbox, config, secret: (name) => `<${name}>` }) ?? [];
    } catch (e) {
      this.ws.log.warn('inbox admin: provider urls failed', { inbox: inbox.id, error: String(e) });
    }
    return { ...inbox, config, secretsSet: Object.keys(s?.secrets ?? {}).sort(), urls };
  }

  async settings(inboxId: string): Promise<{ inbox: Inbox; config: Record<string, unknown>; secrets: Record<string, string> } | null> {
    const r = await this.ws.inboxRow(inboxId);
    if (!r) return null;
    const config = JSON.parse(String(r.config)) as Record<string, unknown>;
    const secrets = r.secrets ? (JSON.parse(decryptSecret(this.secret, String(r.secrets))) as Record<string, string>) : {};
    return { inbox: toInbox(r), config, secrets };
  }

  private async checkTeams(tenantId: string, teamIds: string[]): Promise<void> {
    const unknown = await unknownTeam(this.ws, tenantId, teamIds);
    if (unknown) throw badRequest(`team ${unknown} not found`);
  }
}

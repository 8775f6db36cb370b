import { z } from 'zod';
import { Channel, Id, type Agent, type Inbox } from '@goutong/core';
import type { Workspace } from '../domain/workspace.js';
import { insertInbox, nextSeq, toInbox } from '../domain/rows.js';
import { badRequest, notFound, parse } from '../errors.js';
import { decryptSecret, encryptSecret, randomToken } from '../auth/crypto.js';
import type { ProviderRegistry } from './provider.js';

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
}).strict();

/** Inbox configuration: validated per provider, secrets sealed with the server secret. */
export class InboxAdmin {
  constructor(private readonly ws: Workspace, private readonly providers: ProviderRegistry, private readonly secret: string) {}

  private provider(channel: Inbox['channel'], name: string | null) {
    const p = this.providers.get(channel, name);
    if (!p) {
      const known = this.providers.all().filter((x) => x.channel === channel).map((x) => x.name);
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
    const sealed = parse(p.secretsSchema, secrets, 'secrets');
    // Secrets a provider generates when absent (a callback path token…) are shown once, like the api secret.
    const generated = Object.fromEntries(Object.entries(sealed).filter(([k]) => !(k in secrets)));
    await this.checkTeams(agent.tenantId, body.teamIds);
    const id = this.ws.ids.next();
    const now = Date.now();
    await this.ws.db.tx(async (q) =>
      insertInbox(q, {
        id, tenantId: agent.tenantId, name: body.name, channel: body.channel, provider: providerName, teamIds: body.teamIds, config,
        sealedSecrets: encryptSecret(this.secret, JSON.stringify(sealed)), createdAt: now, seq: await nextSeq(q, agent.tenantId),
      }),
    );
    await this.ws.audit(agent.tenantId, agent.id, 'inbox.create', id, { name: body.name, channel: body.channel, provider: providerName });
    this.ws.committed.emit({ tenantId: agent.tenantId, seq: await this.ws.currentSeq(agent.tenantId) });
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
    const secrets = body.secrets ? parse(p.secretsSchema, { ...cur.secrets, ...body.secrets }, 'secrets') : cur.secrets;
    if (body.teamIds) await this.checkTeams(agent.tenantId, body.teamIds);
    await this.ws.db.tx(async (q) => {
      const seq = await nextSeq(q, agent.tenantId);
      await q.run('UPDATE inboxes SET name = ?, team_ids = ?, config = ?, secrets = ?, seq = ? WHERE id = ?', [
        body.name ?? cur.inbox.name, JSON.stringify(body.teamIds ?? cur.inbox.teamIds), JSON.stringify(config), encryptSecret(this.secret, JSON.stringify(secrets)), seq, id,
      ]);
    });
    await this.ws.audit(agent.tenantId, agent.id, 'inbox.update', id, { fields: Object.keys(body), secretsChanged: Object.keys(body.secrets ?? {}) });
    this.ws.committed.emit({ tenantId: agent.tenantId, seq: await this.ws.currentSeq(agent.tenantId) });
    return this.publicView((await this.ws.inbox(agent.tenantId, id))!);
  }

  /** What the API shows of an inbox: its config, and only the names of its secrets. */
  async publicView(inbox: Inbox): Promise<Record<string, unknown>> {
    const s = await this.settings(inbox.id);
    return { ...inbox, config: s?.config ?? {}, secretsSet: Object.keys(s?.secrets ?? {}).sort() };
  }

  async settings(inboxId: string): Promise<{ inbox: Inbox; config: Record<string, unknown>; secrets: Record<string, string> } | null> {
    const r = await this.ws.inboxRow(inboxId);
    if (!r) return null;
    const config = JSON.parse(String(r.config)) as Record<string, unknown>;
    const secrets = r.secrets ? (JSON.parse(decryptSecret(this.secret, String(r.secrets))) as Record<string, string>) : {};
    return { inbox: toInbox(r), config, secrets };
  }

  private async checkTeams(tenantId: string, teamIds: string[]): Promise<void> {
    for (const t of teamIds) {
      if (!(await this.ws.db.one('SELECT id FROM teams WHERE id = ? AND tenant_id = ?', [t, tenantId]))) throw badRequest(`team ${t} not found`);
    }
  }
}

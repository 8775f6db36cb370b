// [trust] The audit trail, custom roles and API keys of the settings area, straight from the server.
import { defineStore } from 'pinia';
import type { CustomRole, Permission, PermissionSet, Role } from '@goutong/core';
import { currentServices } from '../platform/services';

export interface AuditEvent {
  id: number;
  actorId: string | null;
  action: string;
  target: string | null;
  details: Record<string, unknown>;
  at: number;
  ip: string | null;
  userAgent: string | null;
  sessionId: string | null;
  apiKeyId: string | null;
}

export interface AuditFilter {
  actorId?: string;
  action?: string;
  from?: number;
  to?: number;
  q?: string;
}

export interface ApiKeyRow {
  id: string;
  name: string;
  permissions: PermissionSet;
  ratePerMinute: number;
  createdAt: number;
  revokedAt: number | null;
  lastUsedAt: number | null;
}

interface PermissionCatalog {
  permissions: Permission[];
  builtInRoles: Record<Role, PermissionSet>;
  mine: PermissionSet;
}

function api() {
  const a = currentServices()?.api;
  if (!a) throw new Error('not connected to a server');
  return a;
}

/** The query string of an audit search (empty fields left out). */
export function auditQuery(f: AuditFilter, cursor?: string | null, limit = 50): string {
  const p = new URLSearchParams();
  if (f.actorId) p.set('actorId', f.actorId);
  if (f.action) p.set('action', f.action.trim());
  if (f.from !== undefined) p.set('from', String(f.from));
  if (f.to !== undefined) p.set('to', String(f.to));
  if (f.q?.trim()) p.set('q', f.q.trim());
  if (cursor) p.set('cursor', cursor);
  p.set('limit', String(limit));
  return p.toString();
}

let catalogLoading: Promise<void> | null = null;

export const useTrustStore = defineStore('trust', {
  state: () => ({
    catalog: null as PermissionCatalog | null,
    events: [] as AuditEvent[],
    nextCursor: null as string | null,
    roles: [] as CustomRole[],
    keys: [] as ApiKeyRow[],
    loading: false,
    error: null as string | null,
  }),
  getters: {
    can: (s) => (p: Permission) => s.catalog?.mine.actions.includes(p) ?? false,
  },
  actions: {
    async run<T>(fn: () => Promise<T>): Promise<T | undefined> {
      this.loading = true;
      this.error = null;
      try {
        return await fn();
      } catch (e) {
        this.error = e instanceof Error ? e.message : String(e);
        return undefined;
      } finally {
        this.loading = false;
      }
    },
    /** The catalogue once per session (the reveal buttons ask whether the agent may reveal). */
    async ensureCatalog() {
      if (this.catalog || catalogLoading) return catalogLoading ?? undefined;
      const a = currentServices()?.api;
      if (!a) return undefined; // offline or not signed in: no reveal buttons
      catalogLoading = a
        .request<PermissionCatalog>('GET', '/api/v1/permissions')
        .then((c) => void (this.catalog = c))
        .catch(() => undefined)
        .finally(() => (catalogLoading = null));
      return catalogLoading;
    },
    /** Reveals one clear value (pii.reveal) with a reason; the server audits it. Kept in memory only. */
    async reveal(target: { kind: 'contact' | 'message'; id: string }, field: string, reason: string): Promise<{ value: string; expiresAt: number }> {
      const path = target.kind === 'contact' ? `/api/v1/contacts/${encodeURIComponent(target.id)}/reveal` : `/api/v1/messages/${encodeURIComponent(target.id)}/reveal`;
      return api().request<{ value: string; expiresAt: number }>('POST', path, { field, reason });
    },
    async loadCatalog() {
      await this.run(async () => {
        this.catalog = await api().request<PermissionCatalog>('GET', '/api/v1/permissions');
      });
    },
    async search(f: AuditFilter, more = false) {
      await this.run(async () => {
        const page = await api().request<{ items: AuditEvent[]; nextCursor: string | null }>('GET', `/api/v1/audit-events?${auditQuery(f, more ? this.nextCursor : null)}`);
        this.events = more ? [...this.events, ...page.items] : page.items;
        this.nextCursor = page.nextCursor;
      });
    },
    /** The trail as CSV (the server records the export in the trail). */
    async exportCsv(f: AuditFilter): Promise<string | undefined> {
      return this.run(async () => {
        const a = api();
        return a.text(`/api/v1/audit-events?${auditQuery(f, null, 1000)}`, 'text/csv');
      });
    },
    async loadRoles() {
      await this.run(async () => {
        this.roles = (await api().request<{ items: CustomRole[] }>('GET', '/api/v1/roles')).items;
      });
    },
    async saveRole(id: string | null, body: { name: string; permissions: PermissionSet }): Promise<boolean> {
      const r = await this.run(async () => {
        const saved = id ? await api().request<CustomRole>('PATCH', `/api/v1/roles/${encodeURIComponent(id)}`, body) : await api().request<CustomRole>('POST', '/api/v1/roles', body);
        this.roles = [...this.roles.filter((x) => x.id !== saved.id), saved].sort((a, b) => a.name.localeCompare(b.name));
        return true;
      });
      return r === true;
    },
    async deleteRole(id: string) {
      await this.run(async () => {
        await api().request('DELETE', `/api/v1/roles/${encodeURIComponent(id)}`);
        this.roles = this.roles.filter((x) => x.id !== id);
      });
    },
    async setAgentRole(agentId: string, roleId: string | null) {
      await this.run(() => api().request('PUT', `/api/v1/agents/${encodeURIComponent(agentId)}/custom-role`, { roleId }));
    },
    async loadKeys() {
      await this.run(async () => {
        this.keys = (await api().request<{ items: ApiKeyRow[] }>('GET', '/api/v1/api-keys')).items;
      });
    },
    /** Creates a key; resolves with its token, shown once. */
    async createKey(body: { name: string; permissions: PermissionSet; ratePerMinute: number }): Promise<string | undefined> {
      return this.run(async () => {
        const created = await api().request<ApiKeyRow & { token: string }>('POST', '/api/v1/api-keys', body);
        const { token, ...row } = created;
        this.keys = [row, ...this.keys];
        return token;
      });
    },
    async revokeKey(id: string) {
      await this.run(async () => {
        await api().request('DELETE', `/api/v1/api-keys/${encodeURIComponent(id)}`);
        this.keys = this.keys.map((k) => (k.id === id ? { ...k, revokedAt: Date.now() } : k));
      });
    },
  },
});

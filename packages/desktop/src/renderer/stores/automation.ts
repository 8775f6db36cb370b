import { defineStore } from 'pinia';
import type { AutomationRule, AutomationRuleInput, InboxCsat, MessageTemplate, TemplateInput } from '@goutong/core';
import { currentServices } from '../platform/services';
import type { AdminInbox } from '../admin/schema';

function api() {
  const a = currentServices()?.api;
  if (!a) throw new Error('not connected to a server');
  return a;
}

/** Automation rules, templates and CSAT settings, straight from the server (admin screens need a connection). */
export const useAutomationStore = defineStore('automation', {
  state: () => ({
    rules: [] as AutomationRule[],
    templates: [] as MessageTemplate[],
    inboxes: [] as AdminInbox[],
    loading: false,
    error: null as string | null,
  }),
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
    async load(): Promise<void> {
      await this.run(async () => {
        const [rules, templates, inboxes] = await Promise.all([
          api().request<{ items: AutomationRule[] }>('GET', '/api/v1/automation-rules'),
          api().request<{ items: MessageTemplate[] }>('GET', '/api/v1/templates'),
          api().request<{ items: AdminInbox[] }>('GET', '/api/v1/inboxes'),
        ]);
        this.rules = rules.items;
        this.templates = templates.items;
        this.inboxes = inboxes.items.sort((a, b) => a.name.localeCompare(b.name));
      });
    },
    async saveRule(id: string | null, body: Partial<AutomationRuleInput>): Promise<AutomationRule> {
      const rule = id
        ? await api().request<AutomationRule>('PATCH', `/api/v1/automation-rules/${encodeURIComponent(id)}`, body)
        : await api().request<AutomationRule>('POST', '/api/v1/automation-rules', body);
      const i = this.rules.findIndex((r) => r.id === rule.id);
      if (i >= 0) this.rules.splice(i, 1, rule);
      else this.rules.push(rule);
      this.rules.sort((a, b) => a.position - b.position);
      return rule;
    },
    async setEnabled(rule: AutomationRule, enabled: boolean): Promise<void> {
      await this.run(() => this.saveRule(rule.id, { enabled }));
    },
    /** Moves a rule one place up (-1) or down (+1) and saves the whole order. */
    async move(id: string, by: -1 | 1): Promise<void> {
      const ids = this.rules.map((r) => r.id);
      const i = ids.indexOf(id);
      const j = i + by;
      if (i < 0 || j < 0 || j >= ids.length) return;
      [ids[i], ids[j]] = [ids[j]!, ids[i]!];
      await this.run(async () => {
        this.rules = (await api().request<{ items: AutomationRule[] }>('POST', '/api/v1/automation-rules/reorder', { ids })).items;
      });
    },
    async deleteRule(id: string): Promise<void> {
      await this.run(async () => {
        await api().request('DELETE', `/api/v1/automation-rules/${encodeURIComponent(id)}`);
        this.rules = this.rules.filter((r) => r.id !== id);
      });
    },
    async saveTemplate(id: string | null, body: TemplateInput): Promise<MessageTemplate> {
      const t = id
        ? await api().request<MessageTemplate>('PATCH', `/api/v1/templates/${encodeURIComponent(id)}`, body)
        : await api().request<MessageTemplate>('POST', '/api/v1/templates', body);
      const i = this.templates.findIndex((x) => x.id === t.id);
      if (i >= 0) this.templates.splice(i, 1, t);
      else this.templates.push(t);
      return t;
    },
    async deleteTemplate(id: string): Promise<void> {
      await this.run(async () => {
        await api().request('DELETE', `/api/v1/templates/${encodeURIComponent(id)}`);
        this.templates = this.templates.filter((x) => x.id !== id);
      });
    },
    async saveCsat(inboxId: string, csat: InboxCsat | null): Promise<void> {
      await this.run(async () => {
        const inbox = await api().request<AdminInbox>('PATCH', `/api/v1/inboxes/${encodeURIComponent(inboxId)}`, { csat });
        const i = this.inboxes.findIndex((x) => x.id === inboxId);
        if (i >= 0) this.inboxes.splice(i, 1, inbox);
      });
    },
  },
});

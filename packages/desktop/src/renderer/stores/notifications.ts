import { defineStore } from 'pinia';
import type { Message } from '@goutong/core';
import { currentServices, onClientChange } from '../platform/services';
import { useHost } from '../platform/host';
import { useSessionStore } from './session';

let unbind: (() => void) | null = null;

/** Whether an internal note mentions the agent: @Full Name, @first word of the name, or @email-local-part. */
export function mentions(text: string, agent: { name: string; email: string }): boolean {
  const names = new Set([agent.name, agent.name.split(/\s+/)[0] ?? '', agent.email.split('@')[0] ?? ''].filter((n) => n.length > 0).map((n) => n.toLowerCase()));
  const lower = text.toLowerCase();
  for (const n of names) {
    const i = lower.indexOf(`@${n}`);
    if (i >= 0) {
      const next = lower.charAt(i + 1 + n.length);
      if (!next || !/[\p{L}\p{N}_]/u.test(next) || /[\u4e00-\u9fff]/.test(n)) return true;
    }
  }
  return false;
}

/** Desktop notifications for mentions in notes and SLA warnings/breaches naming the agent (new assignments are in the inbox store). */
export const useNotificationStore = defineStore('notifications', {
  state: () => ({ since: 0, notified: [] as string[] }),
  actions: {
    bind(): void {
      unbind?.();
      this.since = Date.now();
      unbind = onClientChange((c) => {
        if (c.messageConversationIds?.length) void this.check([...new Set(c.messageConversationIds)]);
      });
    },
    unbind(): void {
      unbind?.();
      unbind = null;
    },
    async check(conversationIds: string[]): Promise<void> {
      const s = currentServices();
      const me = useSessionStore().agent;
      if (!s || !me) return;
      for (const id of conversationIds) {
        const msgs: Message[] = await s.client.messages(id, { limit: 10 });
        for (const m of msgs) {
          // [sla] An SLA warning or breach naming this agent (core decideSlaTimer's `notify`).
          const slaNotify = (m.meta as { sla?: unknown; notify?: unknown }).notify;
          if (m.kind === 'event' && Array.isArray(slaNotify) && slaNotify.includes(me.id) && m.createdAt >= this.since && !this.notified.includes(m.id)) {
            this.notified.push(m.id);
            const conv = await s.client.conversation(id);
            void useHost().notify({ title: 'SLA', body: `${conv?.contactName ?? ''}: ${m.text.slice(0, 140)}`, conversationId: id });
            continue;
          }
          if (m.kind !== 'note' || m.authorId === me.id || m.createdAt < this.since || this.notified.includes(m.id)) continue;
          if (!mentions(m.text, me)) continue;
          this.notified.push(m.id);
          const conv = await s.client.conversation(id);
          void useHost().notify({ title: `@${me.name}`, body: `${conv?.contactName ?? ''}: ${m.text.slice(0, 140)}`, conversationId: id });
        }
      }
    },
  },
});

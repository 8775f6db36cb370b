// [contacts] Customer 360 and the supervisors' summary on the phone. Contacts: the server's search and
// timeline when online, the device's working set (core workingSet*) offline or when the server fails.
// Summary: today's figures from GET /api/v1/reports/overview and /reports/live (server only).
import { defineStore } from 'pinia';
import {
  Contact,
  ContactTimelinePage,
  LiveSummary,
  OverviewSummary,
  todayIn,
  workingSetContacts,
  workingSetConversationsOf,
  workingSetTimeline,
  type ContactConversation,
  type ContactTimelineEntry,
} from '@goutong/core';
import { currentServices, requireServices } from '../app/services';

const ContactList = (v: unknown): Contact[] => {
  const items = (v as { items?: unknown } | null)?.items;
  if (!Array.isArray(items)) throw new Error('the server answered no contact list');
  return items.map((c) => Contact.parse(c));
};

export type Source = 'server' | 'device';

/** "42 s", "5 min", "1 h 05 min" / "42 秒"…; "—" for none. */
export function shortDuration(seconds: number | null, zh: boolean): string {
  if (seconds === null) return '—';
  if (seconds < 60) return zh ? `${seconds} 秒` : `${seconds} s`;
  const m = Math.round(seconds / 60);
  if (m < 60) return zh ? `${m} 分钟` : `${m} min`;
  return zh ? `${Math.floor(m / 60)} 小时 ${String(m % 60).padStart(2, '0')} 分` : `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

const online = () => {
  const s = currentServices();
  return !!s && s.client.connectivity.value.status !== 'offline';
};

export const useCustomerStore = defineStore('customer', {
  state: () => ({
    query: '',
    contacts: [] as Contact[],
    listSource: 'server' as Source,
    contact: null as Contact | null,
    conversations: [] as ContactConversation[],
    timeline: [] as ContactTimelineEntry[],
    timelineSource: 'server' as Source,
    overview: null as OverviewSummary | null,
    live: null as LiveSummary | null,
    error: null as string | null,
  }),
  actions: {
    async search(q: string): Promise<void> {
      this.query = q;
      const s = requireServices();
      if (online()) {
        try {
          this.contacts = ContactList(await s.api.getJson(`/api/v1/contacts?q=${encodeURIComponent(q)}&limit=50`));
          this.listSource = 'server';
          return;
        } catch {
          /* the device's working set below */
        }
      }
      this.contacts = await workingSetContacts(s.store, q);
      this.listSource = 'device';
    },
    async open(contactId: string): Promise<void> {
      const s = requireServices();
      this.error = null;
      this.contact = this.contacts.find((c) => c.id === contactId) ?? (await s.store.getContact(contactId));
      this.conversations = await workingSetConversationsOf(s.store, contactId);
      if (online()) {
        try {
          this.timeline = ContactTimelinePage.parse(await s.api.getJson(`/api/v1/contacts/${encodeURIComponent(contactId)}/timeline?limit=100`)).items.map((i) => ({
            conversationId: i.conversationId, channel: i.channel, inboxId: i.inboxId, status: i.ticketStatus, message: i.message,
          }));
          this.timelineSource = 'server';
          return;
        } catch {
          /* below */
        }
      }
      this.timeline = await workingSetTimeline(s.store, contactId);
      this.timelineSource = 'device';
    },
    /** Today's figures (reports need the server: offline the error says so). */
    async loadSummary(now: number, tz: string): Promise<void> {
      const s = requireServices();
      this.error = null;
      const r = todayIn(now, tz);
      try {
        const [o, l] = await Promise.all([
          s.api.getJson(`/api/v1/reports/overview?from=${r.from}&to=${r.to}&tz=${encodeURIComponent(tz)}`),
          s.api.getJson('/api/v1/reports/live'),
        ]);
        this.overview = OverviewSummary.parse(o);
        this.live = LiveSummary.parse(l);
      } catch (e) {
        this.error = e instanceof Error ? e.message : String(e);
      }
    },
  },
});

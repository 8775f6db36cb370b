// [contacts] The customer-360 screen's data: the server's contacts API when online (search over every
// contact, the timeline across channels, merge suggestions, merge and undo), the device's working set
// offline (the contacts of the conversations synced to this device, their cached messages). Answers of
// the server are parsed here; personal data arrives masked for agents without pii.view and is shown as
// it came.
import { z } from 'zod';
import { Contact, Conversation, MERGED_INTO, MergeRecord, Message, textMatches, type LocalStore } from '@goutong/core';
import { currentServices } from '../platform/services';

export interface TimelineEntry {
  conversationId: string;
  channel: string;
  inboxId: string;
  /** The conversation's status. */
  status: string;
  message: Message;
}

export interface ConversationSummary {
  id: string;
  channel: string;
  inboxId: string;
  status: string;
  subject: string | null;
  labels: string[];
  csat: { rating: number; comment: string | null } | null;
  lastMessageAt: number;
}

export interface Suggestion {
  contact: Contact;
  reason: string;
}

export type Source = 'server' | 'device';

const ContactPage = z.object({ items: z.array(Contact), nextOffset: z.number().int().nullable() });
const TimelinePage = z.object({
  items: z.array(z.object({ conversationId: z.string(), channel: z.string(), inboxId: z.string(), ticketStatus: z.string(), message: Message })),
  nextBefore: z.number().nullable(),
});
const Suggestions = z.object({ items: z.array(z.object({ contact: Contact, reason: z.string() })) });
const Merges = z.object({ items: z.array(MergeRecord) });
const MergeAnswer = z.object({ contact: Contact, mergeId: z.string() });
const UnmergeAnswer = z.object({ contact: Contact });

function services() {
  const s = currentServices();
  if (!s) throw new Error('not signed in');
  return s;
}

/** Whether the server answers now (else the screen reads the device). */
export function online(): boolean {
  const s = currentServices();
  return !!s?.api && s.client.connectivity.value.status !== 'offline';
}

function api() {
  const a = services().api;
  if (!a) throw new Error('not connected to a server');
  return a;
}

/** The conversations of the working set (the device's index), at most the whole index. */
async function localConversations(store: LocalStore): Promise<Conversation[]> {
  return store.queryConversations({ sort: 'lastActivity', limit: 20_000 });
}

const isMerged = (c: Contact) => typeof c.attributes[MERGED_INTO] === 'string';

/** Contacts of the working set matching `q` (name, identities, attribute values), most recent conversation first. */
export async function searchLocalContacts(store: LocalStore, q: string, limit = 50): Promise<Contact[]> {
  const out: Contact[] = [];
  const seen = new Set<string>();
  for (const conv of await localConversations(store)) {
    if (seen.has(conv.contactId)) continue;
    seen.add(conv.contactId);
    const c = await store.getContact(conv.contactId);
    if (!c || isMerged(c)) continue;
    if (q.trim() && !textMatches(q, c.name, ...c.identities.map((i) => i.identifier), ...Object.values(c.attributes).map((v) => String(v)))) continue;
    out.push(c);
    if (out.length >= limit) break;
  }
  return out;
}

/** The contact list: the server's search online, the device's working set offline (or when the server fails). */
export async function searchContacts(q: string): Promise<{ items: Contact[]; source: Source }> {
  if (online()) {
    try {
      const page = ContactPage.parse(await api().request('GET', `/api/v1/contacts?${new URLSearchParams({ q, limit: '50' }).toString()}`));
      return { items: page.items, source: 'server' };
    } catch (e) {
      if (e instanceof z.ZodError) throw e;
    }
  }
  return { items: await searchLocalContacts(services().store, q), source: 'device' };
}

/** The contact's conversations on this device (status, labels, CSAT), newest first. */
export async function localConversationsOf(store: LocalStore, contactId: string): Promise<ConversationSummary[]> {
  return (await localConversations(store))
    .filter((c) => c.contactId === contactId)
    .map((c) => ({ id: c.id, channel: c.channel, inboxId: c.inboxId, status: c.status, subject: c.subject, labels: c.labels, csat: c.csat ?? null, lastMessageAt: c.lastMessageAt }));
}

/** The timeline from the device: every cached message of the contact's conversations, newest first. */
export async function localTimeline(store: LocalStore, contactId: string, limit = 200): Promise<TimelineEntry[]> {
  const out: TimelineEntry[] = [];
  for (const c of await localConversationsOf(store, contactId)) {
    for (const m of await store.getMessages({ conversationId: c.id, limit })) out.push({ conversationId: c.id, channel: c.channel, inboxId: c.inboxId, status: c.status, message: m });
  }
  return out.sort((a, b) => b.message.createdAt - a.message.createdAt || (a.message.id < b.message.id ? 1 : -1)).slice(0, limit);
}

/** The timeline across channels: the server's (every conversation the agent may see) online, the device's offline. */
export async function timelineOf(contactId: string): Promise<{ items: TimelineEntry[]; source: Source }> {
  if (online()) {
    try {
      const page = TimelinePage.parse(await api().request('GET', `/api/v1/contacts/${encodeURIComponent(contactId)}/timeline?limit=100`));
      return { items: page.items.map((i) => ({ conversationId: i.conversationId, channel: i.channel, inboxId: i.inboxId, status: i.ticketStatus, message: i.message })), source: 'server' };
    } catch (e) {
      if (e instanceof z.ZodError) throw e;
    }
  }
  return { items: await localTimeline(services().store, contactId), source: 'device' };
}

/** Other contacts that look like the same person (server only; empty offline). */
export async function suggestionsOf(contactId: string): Promise<Suggestion[]> {
  if (!online()) return [];
  return Suggestions.parse(await api().request('GET', `/api/v1/contacts/${encodeURIComponent(contactId)}/merge-suggestions`)).items;
}

/** The contact's merges, newest first (for undo; server only). */
export async function mergesOf(contactId: string): Promise<MergeRecord[]> {
  if (!online()) return [];
  return Merges.parse(await api().request('GET', `/api/v1/contacts/${encodeURIComponent(contactId)}/merges`)).items;
}

/** Merges `otherId` into `contactId` (the agent confirmed it). */
export async function merge(contactId: string, otherId: string): Promise<{ contact: Contact; mergeId: string }> {
  return MergeAnswer.parse(await api().request('POST', `/api/v1/contacts/${encodeURIComponent(contactId)}/merge`, { otherId }));
}

/** Undoes a merge: the other contact, its identities and conversations come back. */
export async function unmerge(contactId: string, mergeId: string): Promise<Contact> {
  return UnmergeAnswer.parse(await api().request('POST', `/api/v1/contacts/${encodeURIComponent(contactId)}/unmerge`, { mergeId })).contact;
}

/** The labels of a contact's conversations (the profile shows them once each). */
export function labelsOf(conversations: readonly Pick<ConversationSummary, 'labels'>[]): string[] {
  return [...new Set(conversations.flatMap((c) => c.labels))].sort();
}

// [contacts] Customer 360 on the device: the contacts of the working set (the conversations synced to
// this device) and their timeline from cached messages, for the desktop and mobile apps offline.
import type { Contact, Conversation, Message } from '../../domain/model.js';
import type { LocalStore } from '../../ports/storage.js';
import { textMatches } from '../../domain/searchMatch.js';
import { MERGED_INTO } from '../../rules/contactMerge.js';

export interface ContactTimelineEntry {
  conversationId: string;
  channel: string;
  inboxId: string;
  /** The conversation's status. */
  status: string;
  message: Message;
}

export interface ContactConversation {
  id: string;
  channel: string;
  inboxId: string;
  status: string;
  subject: string | null;
  labels: string[];
  csat: { rating: number; comment: string | null } | null;
  lastMessageAt: number;
}

/** How many index rows the working-set views read at most (the whole index of any realistic scope). */
const INDEX_SCAN = 20_000;

const indexOf = (store: LocalStore): Promise<Conversation[]> => store.queryConversations({ sort: 'lastActivity', limit: INDEX_SCAN });

/** Contacts of the working set matching `q` (name, identities, attribute values), most recent conversation first; merged-away contacts left out. */
export async function workingSetContacts(store: LocalStore, q: string, limit = 50): Promise<Contact[]> {
  const out: Contact[] = [];
  const seen = new Set<string>();
  for (const conv of await indexOf(store)) {
    if (seen.has(conv.contactId)) continue;
    seen.add(conv.contactId);
    const c = await store.getContact(conv.contactId);
    if (!c || typeof c.attributes[MERGED_INTO] === 'string') continue;
    if (q.trim() && !textMatches(q, c.name, ...c.identities.map((i) => i.identifier), ...Object.values(c.attributes).map((v) => String(v)))) continue;
    out.push(c);
    if (out.length >= limit) break;
  }
  return out;
}

/** The contact's conversations on this device (status, labels, CSAT), newest first. */
export async function workingSetConversationsOf(store: LocalStore, contactId: string): Promise<ContactConversation[]> {
  return (await indexOf(store))
    .filter((c) => c.contactId === contactId)
    .map((c) => ({ id: c.id, channel: c.channel, inboxId: c.inboxId, status: c.status, subject: c.subject, labels: c.labels, csat: c.csat ?? null, lastMessageAt: c.lastMessageAt }));
}

/** The timeline from the device: the cached messages, calls, notes and events of the contact's conversations, newest first. */
export async function workingSetTimeline(store: LocalStore, contactId: string, limit = 200): Promise<ContactTimelineEntry[]> {
  const out: ContactTimelineEntry[] = [];
  for (const c of await workingSetConversationsOf(store, contactId)) {
    for (const m of await store.getMessages({ conversationId: c.id, limit })) out.push({ conversationId: c.id, channel: c.channel, inboxId: c.inboxId, status: c.status, message: m });
  }
  return out.sort((a, b) => b.message.createdAt - a.message.createdAt || (a.message.id < b.message.id ? 1 : -1)).slice(0, limit);
}

/** The labels of a contact's conversations, once each. */
export function labelsOfConversations(conversations: readonly Pick<ContactConversation, 'labels'>[]): string[] {
  return [...new Set(conversations.flatMap((c) => c.labels))].sort();
}

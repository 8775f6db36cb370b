// [contacts] The customer-360 screen's data: the server's contacts API when online (search over every
// contact, the timeline across channels, merge suggestions, merge and undo), the device's working set
// offline (the contacts of the conversations synced to this device, their cached messages). Answers of
// the server are parsed here; personal data arrives masked for agents without pii.view and is shown as
// it came.
import { z } from 'zod';
import {
  Contact,
  ContactTimelinePage,
  MergeRecord,
  labelsOfConversations,
  workingSetContacts,
  workingSetConversationsOf,
  workingSetTimeline,
  type ContactConversation,
  type ContactTimelineEntry,
} from '@goutong/core';
import { currentServices } from '../platform/services';

export type TimelineEntry = ContactTimelineEntry;
export type ConversationSummary = ContactConversation;

export interface Suggestion {
  contact: Contact;
  reason: string;
}

export type Source = 'server' | 'device';

const ContactPage = z.object({ items: z.array(Contact), nextOffset: z.number().int().nullable() });
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
  return { items: await workingSetContacts(services().store, q), source: 'device' };
}

export const localConversationsOf = workingSetConversationsOf;

/** The timeline across channels: the server's (every conversation the agent may see) online, the device's offline. */
export async function timelineOf(contactId: string): Promise<{ items: TimelineEntry[]; source: Source }> {
  if (online()) {
    try {
      const page = ContactTimelinePage.parse(await api().request('GET', `/api/v1/contacts/${encodeURIComponent(contactId)}/timeline?limit=100`));
      return { items: page.items.map((i) => ({ conversationId: i.conversationId, channel: i.channel, inboxId: i.inboxId, status: i.ticketStatus, message: i.message })), source: 'server' };
    } catch (e) {
      if (e instanceof z.ZodError) throw e;
    }
  }
  return { items: await workingSetTimeline(services().store, contactId), source: 'device' };
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

export const labelsOf = labelsOfConversations;

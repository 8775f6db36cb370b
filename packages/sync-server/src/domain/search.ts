// [search] Full-text search over all history (the index is kept in searchIndex.ts). SQLite: FTS5
// with the trigram tokenizer (any script, substrings); queries under 3 characters scan the indexed
// text. PostgreSQL: pg_trgm GIN index serving LIKE. The index only proposes candidates: core's search
// rule (domain/search.ts) confirms each on the text the caller may see (masked without pii.view)
// and cuts its snippet.
import { z } from 'zod';
import {
  compareSearchHits,
  conversationHit,
  messageHit,
  normalizeSearchQuery,
  phoneDigitsOf,
  type Contact,
  type Conversation,
  type SearchHit,
  type SearchPage,
} from '@goutong/core';
import type { Queryable, Row } from '../db/db.js';
import { badRequest } from '../errors.js';
import type { Masker } from './masking.js';
import { toContact, toConversation, toMessage } from './rows.js';
import { scopeSql, type Scope } from './scope.js';

// ----- the query -------------------------------------------------------------------------------

export const SearchQuery = z.object({
  q: z.string().max(400).transform((s) => s.trim()).refine((s) => normalizeSearchQuery(s) !== '', 'q: give something to search for'),
  limit: z.coerce.number().int().min(1).max(100).default(30),
  cursor: z.string().max(400).optional(),
});

const Cursor = z.object({ at: z.number().int().nonnegative(), key: z.string().min(1).max(200) });
type Cursor = z.infer<typeof Cursor>;

export function encodeSearchCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

export function decodeSearchCursor(s: string): Cursor {
  try {
    return Cursor.parse(JSON.parse(Buffer.from(s, 'base64url').toString('utf8')));
  } catch {
    throw badRequest('cursor: not a cursor this server gave out');
  }
}

const likeEscape = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/** The SQL that picks index entries matching the query (on the alias `d`). */
function matchSql(q: Queryable, needle: string): { sql: string; params: string[] } {
  if (q.dialect === 'pg') return { sql: "d.body LIKE ? ESCAPE '\\'", params: [`%${likeEscape(needle)}%`] };
  if ([...needle].length >= 3) return { sql: 'd.id IN (SELECT rowid FROM search_fts WHERE search_fts MATCH ?)', params: [`"${needle.replaceAll('"', '""')}"`] };
  // Trigrams need 3 characters: shorter queries (一个字, 两个字) scan the indexed text.
  return { sql: 'instr(d.body, ?) > 0', params: [needle] };
}

interface Stream {
  /** Candidates after the cursor, in (at, key) descending order, at most `batch`. */
  fetch(after: Cursor | null, batch: number): Promise<{ at: number; key: string; hit: () => SearchHit | null }[]>;
}

/**
 * Search over all history in the caller's scope: messages (every channel, notes, the agent's own
 * replies, transcripts) and conversations (contact name, email, phone, subject, ticket number),
 * newest first, confirmed and cut by core's rule on what the caller may see.
 */
export async function searchHistory(q: Queryable, o: { tenantId: string; scope: Scope; mask: Masker; text: string; limit: number; cursor: string | null }): Promise<SearchPage> {
  const query = o.text;
  const normalized = normalizeSearchQuery(query);
  const needle = phoneDigitsOf(query) ?? normalized;
  const match = matchSql(q, needle);
  const s = scopeSql(o.scope, 'v.inbox_id');
  const binary = q.dialect === 'pg' ? 'COLLATE "C"' : '';
  const after = (at: string, key: string, c: Cursor | null) =>
    c ? { sql: ` AND (${at} < ? OR (${at} = ? AND ${key} ${binary} < ?))`, params: [c.at, c.at, c.key] } : { sql: '', params: [] };

  const messages: Stream = {
    async fetch(c, batch) {
      const a = after('m.created_at', 'm.id', c);
      const rows = await q.all(
        `SELECT m.*, v.id AS v_id, v.contact_name AS v_contact_name, v.channel AS v_channel, v.status AS v_status, v.subject AS v_subject,
           v.ticket_number AS v_ticket_number, v.last_message_at AS v_last_message_at
         FROM search_docs d JOIN messages m ON m.id = d.ref_id JOIN conversations v ON v.id = m.conversation_id
         WHERE d.kind = 'message' AND d.tenant_id = ? AND ${match.sql} AND ${s.sql}${a.sql}
         ORDER BY m.created_at DESC, m.id ${binary} DESC LIMIT ?`,
        [o.tenantId, ...match.params, ...s.params, ...a.params, batch],
      );
      return rows.map((r) => ({
        at: Number(r.created_at),
        key: String(r.id),
        hit: () => {
          const conv = conversationFields(r);
          return messageHit(query, o.mask.message(toMessage(r)), { ...conv, contactName: o.mask.json(conv.contactName), subject: conv.subject === null ? null : o.mask.json(conv.subject) });
        },
      }));
    },
  };

  const conversations: Stream = {
    async fetch(c, batch) {
      const key = "('conversation:' || v.id)";
      const a = after('v.last_message_at', key, c);
      const rows = await q.all(
        `SELECT v.* FROM search_docs d JOIN conversations v ON v.id = d.ref_id
         WHERE d.kind = 'conversation' AND d.tenant_id = ? AND ${match.sql} AND ${s.sql}${a.sql}
         ORDER BY v.last_message_at DESC, ${key} ${binary} DESC LIMIT ?`,
        [o.tenantId, ...match.params, ...s.params, ...a.params, batch],
      );
      const convs = rows.map(toConversation);
      const contactIds = [...new Set(convs.map((x) => x.contactId))];
      const contacts = new Map<string, Contact>();
      if (contactIds.length) {
        for (const r of await q.all(`SELECT * FROM contacts WHERE id IN (${contactIds.map(() => '?').join(', ')})`, contactIds)) {
          const ct = toContact(r);
          contacts.set(ct.id, o.mask.contact(ct));
        }
      }
      return convs.map((v) => ({
        at: v.lastMessageAt,
        key: `conversation:${v.id}`,
        hit: () => conversationHit(query, o.mask.conversation(v), contacts.get(v.contactId) ?? null),
      }));
    },
  };

  const items: SearchHit[] = [];
  let cursor: Cursor | null = o.cursor ? decodeSearchCursor(o.cursor) : null;
  const batch = Math.min(200, o.limit * 2);
  // Merge the streams; a candidate the rule does not confirm (masked away) is skipped, so a page
  // may need more rounds. A round walks only up to where every stream is known complete.
  for (let round = 0; round < 8; round++) {
    const parts = await Promise.all([messages, conversations].map(async (st) => ({ rows: await st.fetch(cursor, batch) })));
    const candidates = parts.flatMap((p) => p.rows).sort((x, y) => y.at - x.at || (x.key < y.key ? 1 : x.key > y.key ? -1 : 0));
    const bounds = parts.filter((p) => p.rows.length === batch).map((p) => p.rows[p.rows.length - 1]!);
    const bound = bounds.sort((x, y) => y.at - x.at || (x.key < y.key ? 1 : x.key > y.key ? -1 : 0)).pop() ?? null;
    for (const cand of candidates) {
      if (bound && (cand.at < bound.at || (cand.at === bound.at && cand.key < bound.key))) break;
      cursor = { at: cand.at, key: cand.key };
      const hit = cand.hit();
      if (hit) items.push(hit);
      if (items.length === o.limit) {
        return { items: items.sort(compareSearchHits), nextCursor: encodeSearchCursor(cursor) };
      }
    }
    if (!bound) return { items: items.sort(compareSearchHits), nextCursor: null };
    cursor = { at: bound.at, key: bound.key };
  }
  return { items: items.sort(compareSearchHits), nextCursor: cursor ? encodeSearchCursor(cursor) : null };
}

function conversationFields(r: Row): Pick<Conversation, 'id' | 'contactName' | 'channel' | 'status' | 'subject' | 'lastMessageAt'> & { ticketNumber?: number } {
  return {
    id: String(r.v_id), contactName: String(r.v_contact_name), channel: r.v_channel as Conversation['channel'], status: r.v_status as Conversation['status'],
    subject: (r.v_subject as string | null) ?? null, lastMessageAt: Number(r.v_last_message_at),
    ...(r.v_ticket_number !== null && r.v_ticket_number !== undefined ? { ticketNumber: Number(r.v_ticket_number) } : {}),
  };
}

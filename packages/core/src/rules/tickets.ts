import type { Conversation } from '../domain/model.js';

/** `[#1234]` in an email subject names a ticket. */
const TAG_RE = /\[#(\d{1,12})\]/;

/** The ticket number an email subject names (`Re: [#1234] Refund`), or null. */
export function ticketNumberOfSubject(subject: string | null | undefined): number | null {
  const m = subject ? TAG_RE.exec(subject) : null;
  if (!m) return null;
  const n = Number(m[1]);
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

/** An outgoing email subject carrying the ticket's tag once: `Re: [#1234] Refund` (a tag already there stays). */
export function subjectWithTicket(subject: string | null, ticketNumber: number | undefined | null): string | null {
  if (!ticketNumber) return subject;
  const tag = `[#${ticketNumber}]`;
  const s = (subject ?? '').trim();
  if (s.includes(tag)) return s;
  const stripped = s.replace(TAG_RE, '').replace(/\s{2,}/g, ' ').trim();
  const re = /^((?:re|fw|fwd|aw|回复|答复|转发)\s*[:：]\s*)+/i.exec(stripped);
  if (re) return `${re[0]}${tag} ${stripped.slice(re[0].length)}`.trim();
  return stripped ? `${tag} ${stripped}` : tag;
}

/** Whether a search text is only a ticket reference (`#1234`): then nothing but the ticket number matches. */
export function isTicketQuery(text: string): boolean {
  return /^#\d{1,12}$/.test(text.trim());
}

/** Whether a search text names this conversation's ticket (`1234`, `#1234`). */
export function matchesTicket(c: Pick<Conversation, 'ticketNumber'>, text: string): boolean {
  const m = /^#?(\d{1,12})$/.exec(text.trim());
  return m !== null && c.ticketNumber !== undefined && c.ticketNumber === Number(m[1]);
}

/** The ticket as people read it: `#1234`. */
export function formatTicket(n: number | undefined | null): string {
  return n ? `#${n}` : '';
}

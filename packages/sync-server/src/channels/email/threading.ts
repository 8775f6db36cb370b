// Pure helpers of email threading; the threading facts (tokens, Message-IDs, links) are in
// src/domain/threading.ts.
import type { Inbox } from '@goutong/core';
import type { Queryable } from '../../db/db.js';
import { findThread as findThreadIn, type ThreadMatch } from '../../domain/threading.js';
import { ticketNumberOfSubject } from '@goutong/core';
import { baseSubject, type InboundMail } from './parse.js';

export { conversationToken, recordMessageId, threadHeaders, type ThreadMatch } from '../../domain/threading.js';

/** Our Message-ID for an outgoing message: derived from its id (the client's command id). */
export function ourMessageId(messageId: string, domain: string): string {
  return `<${messageId}@${domain}>`;
}

/** The id inside one of our Message-IDs, or null. */
export function parseOurMessageId(header: string, domain: string): string | null {
  const m = /^<([A-Za-z0-9_.:-]{1,128})@([^>]+)>$/.exec(header);
  return m && m[2]!.toLowerCase() === domain.toLowerCase() ? m[1]! : null;
}

export function splitAddress(address: string): { local: string; domain: string } {
  const at = address.lastIndexOf('@');
  return { local: address.slice(0, at), domain: address.slice(at + 1).toLowerCase() };
}

export function replyToAddress(address: string, token: string): string {
  const { local, domain } = splitAddress(address);
  return `${local}+${token}@${domain}`;
}

/**
 * Which conversation an inbound mail continues: the reply-to token first, then In-Reply-To and
 * References (newest first) against the Message-IDs we sent and received, then the same subject
 * (without Re:/Fwd:) from the same contact within `subjectMatchDays`. Null: a new thread.
 */
export async function findThread(q: Queryable, inbox: Inbox, address: string, messageIdDomain: string, mail: InboundMail, subjectMatchDays: number, now: number): Promise<ThreadMatch | null> {
  const { local, domain } = splitAddress(address.toLowerCase());
  const subject = baseSubject(mail.subject);
  return findThreadIn(q, inbox, {
    local,
    domain,
    recipients: mail.recipients,
    inReplyTo: mail.inReplyTo,
    references: mail.references,
    ourId: (h) => parseOurMessageId(h, messageIdDomain),
    fromAddress: mail.from?.address ?? null,
    hasSubject: subject !== '',
    sameSubject: (s) => baseSubject(s) === subject,
    subjectMatchDays,
    now,
    ticketNumber: ticketNumberOfSubject(mail.subject), // [automation]
  });
}

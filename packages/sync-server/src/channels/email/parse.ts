import crypto from 'node:crypto';
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
import sanitizeHtml from 'sanitize-html';

export interface MailAddress {
  address: string;
  name: string;
}

export interface Bounce {
  /** failed | delayed | delivered | relayed | expanded */
  action: string;
  status: string | null;
  diagnostic: string | null;
  recipient: string | null;
  /** ENVID we gave the MTA (our message id). */
  envelopeId: string | null;
  /** Message-ID of the mail that bounced (from the returned headers). */
  originalMessageId: string | null;
}

export interface InboundMail {
  messageId: string | null;
  inReplyTo: string | null;
  references: string[];
  from: MailAddress | null;
  to: MailAddress[];
  cc: MailAddress[];
  /** Every address the mail was delivered to (To, Cc, Delivered-To, X-Original-To). */
  recipients: string[];
  subject: string;
  text: string;
  /** Sanitised HTML (no script, style, event handlers or remote content), or null. */
  html: string | null;
  date: number | null;
  /** Auto-submitted mail (auto-replies, bounces, lists): never answered automatically. */
  autoSubmitted: string | null;
  bounce: Bounce | null;
  attachments: { filename: string; contentType: string; content: Buffer; cid: string | null; inline: boolean }[];
  /** sha256 of the raw source (an external id for mail without a Message-ID). */
  sourceHash: string;
}

const MAX_TEXT = 100_000;
const MAX_HTML = 200_000;

/** `<id@host>` normalised: angle brackets kept, surrounding space removed. */
export function normMessageId(v: string | null | undefined): string | null {
  if (!v) return null;
  const m = /<[^<>\s]+>/.exec(v);
  const id = m ? m[0] : `<${v.trim().replace(/^<|>$/g, '')}>`;
  return id.length > 2 && id.length <= 998 ? id : null;
}

function idList(v: string | string[] | undefined): string[] {
  const raw = Array.isArray(v) ? v.join(' ') : (v ?? '');
  return [...raw.matchAll(/<[^<>\s]+>/g)].map((m) => m[0]);
}

function addresses(v: AddressObject | AddressObject[] | undefined): MailAddress[] {
  const list = Array.isArray(v) ? v : v ? [v] : [];
  const out: MailAddress[] = [];
  const walk = (vals: { address?: string; name?: string; group?: unknown[] }[]) => {
    for (const a of vals) {
      if (a.group) walk(a.group as { address?: string; name?: string }[]);
      else if (a.address) out.push({ address: a.address.toLowerCase(), name: a.name ?? '' });
    }
  };
  for (const o of list) walk(o.value as { address?: string; name?: string }[]);
  return out;
}

function headerText(p: ParsedMail, name: string): string | null {
  const v = p.headers.get(name);
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && 'value' in (v as object)) {
    const val = (v as { value: unknown }).value;
    if (typeof val === 'string') return val;
    if (Array.isArray(val)) return val.map((x: { address?: string }) => x.address ?? '').join(', ');
  }
  return String(v);
}

/** RFC 3834 and the de-facto headers: why a mail counts as automatic, or null for a person's mail. */
export function autoSubmittedReason(p: ParsedMail, from: MailAddress | null): string | null {
  const auto = headerText(p, 'auto-submitted');
  if (auto && auto.trim().toLowerCase() !== 'no') return `Auto-Submitted: ${auto.trim()}`;
  const prec = headerText(p, 'precedence')?.trim().toLowerCase();
  if (prec && ['bulk', 'junk', 'list', 'auto_reply'].includes(prec)) return `Precedence: ${prec}`;
  for (const h of ['x-autoreply', 'x-autorespond', 'x-autoresponder']) if (p.headers.has(h)) return h;
  const suppress = headerText(p, 'x-auto-response-suppress');
  if (suppress && /\b(all|oof|autoreply)\b/i.test(suppress)) return `X-Auto-Response-Suppress: ${suppress}`;
  if (p.headers.has('list-id') || p.headers.has('list-unsubscribe')) return 'mailing list';
  const ct = p.headers.get('content-type') as { value?: string } | undefined;
  if (ct?.value?.toLowerCase() === 'multipart/report') return 'report';
  const rp = headerText(p, 'return-path');
  if (rp !== null && rp.replace(/[<>\s]/g, '') === '') return 'null sender';
  if (from && /^(mailer-daemon|postmaster|no-?reply|do-?not-?reply)@/i.test(from.address)) return `sender ${from.address}`;
  return null;
}

/** Reads a delivery status notification (RFC 3464) from the raw report. */
export function parseDsn(raw: string, p: ParsedMail): Bounce | null {
  const ct = p.headers.get('content-type') as { value?: string; params?: Record<string, string> } | undefined;
  if (ct?.value?.toLowerCase() !== 'multipart/report' || ct.params?.['report-type']?.toLowerCase() !== 'delivery-status') return null;
  const at = raw.search(/content-type:\s*message\/delivery-status/i);
  if (at < 0) return null;
  const rest = raw.slice(at);
  const field = (name: string) => {
    const m = new RegExp(`^${name}:[ \\t]*([^\\r\\n]*(?:\\r?\\n[ \\t]+[^\\r\\n]*)*)`, 'im').exec(rest);
    return m ? m[1]!.replace(/\r?\n[ \t]+/g, ' ').trim() : null;
  };
  const action = field('Action')?.toLowerCase() ?? 'failed';
  const returned = /content-type:\s*(text\/rfc822-headers|message\/rfc822)/i.exec(rest);
  let originalMessageId: string | null = null;
  if (returned) {
    const m = /^message-id:[ \t]*(<[^>\r\n]+>)/im.exec(rest.slice(returned.index));
    originalMessageId = m ? m[1]! : null;
  }
  return {
    action,
    status: field('Status'),
    diagnostic: field('Diagnostic-Code'),
    recipient: field('Final-Recipient')?.replace(/^rfc822;\s*/i, '') ?? null,
    envelopeId: field('Original-Envelope-Id'),
    originalMessageId,
  };
}

/** HTML fit to show in the agent's app: no scripts, styles, frames, forms, handlers or remote images. */
export function sanitizeEmailHtml(html: string, cidUrls: Map<string, string> = new Map()): string {
  return sanitizeHtml(html, {
    allowedTags: [
      'a', 'abbr', 'b', 'blockquote', 'br', 'caption', 'cite', 'code', 'col', 'colgroup', 'dd', 'del', 'div', 'dl', 'dt', 'em', 'font', 'h1', 'h2', 'h3',
      'h4', 'h5', 'h6', 'hr', 'i', 'img', 'ins', 'kbd', 'li', 'mark', 'ol', 'p', 'pre', 'q', 's', 'small', 'span', 'strike', 'strong', 'sub', 'sup',
      'table', 'tbody', 'td', 'tfoot', 'th', 'thead', 'tr', 'u', 'ul',
    ],
    allowedAttributes: {
      a: ['href', 'title'],
      img: ['src', 'alt', 'title', 'width', 'height'],
      td: ['colspan', 'rowspan', 'align', 'valign'],
      th: ['colspan', 'rowspan', 'align', 'valign'],
      font: ['color'],
      '*': ['dir', 'lang'],
    },
    allowedSchemes: ['http', 'https', 'mailto', 'tel'],
    allowedSchemesByTag: { img: ['cid', 'https'] },
    allowProtocolRelative: false,
    transformTags: {
      a: (tagName, attribs) => ({ tagName, attribs: { ...attribs, rel: 'noopener noreferrer nofollow', target: '_blank' } }),
      img: (tagName, attribs) => {
        const src = attribs.src ?? '';
        // Inline images point at our stored attachments; remote images (trackers) are dropped.
        if (src.toLowerCase().startsWith('cid:')) {
          const url = cidUrls.get(src.slice(4).replace(/^<|>$/g, ''));
          return url ? { tagName, attribs: { ...attribs, src: url } } : { tagName: 'span', attribs: {}, text: attribs.alt ?? '' };
        }
        return { tagName: 'span', attribs: {}, text: attribs.alt ?? '' };
      },
    },
    exclusiveFilter: (frame) => frame.tag === 'img' && !frame.attribs.src,
  });
}

function htmlToText(html: string): string {
  return sanitizeHtml(html.replace(/<(br|\/p|\/div|\/tr|\/li|\/h\d)\s*\/?>/gi, '\n'), { allowedTags: [], allowedAttributes: {} })
    .replace(/&nbsp;/g, ' ')
    .replace(/&amp;/g, '&')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** Parses a raw RFC 5322 message into what the email channel needs. */
export async function parseMail(raw: Buffer): Promise<InboundMail> {
  const p = await simpleParser(raw, { skipHtmlToText: true, skipTextToHtml: true, skipTextLinks: true });
  const from = addresses(p.from)[0] ?? null;
  const to = addresses(p.to);
  const cc = addresses(p.cc);
  const recipients = new Set([...to, ...cc].map((a) => a.address));
  for (const h of ['delivered-to', 'x-original-to', 'envelope-to']) {
    const v = p.headers.get(h);
    if (v && typeof v === 'object' && 'value' in (v as object)) for (const a of addresses(v as AddressObject)) recipients.add(a.address);
    else if (typeof v === 'string') for (const m of v.matchAll(/[^\s<>,;]+@[^\s<>,;]+/g)) recipients.add(m[0].toLowerCase());
  }
  const rawText = raw.toString('latin1');
  const bounce = parseDsn(rawText, p);
  const text = (p.text ?? (typeof p.html === 'string' ? htmlToText(p.html) : '')).replace(/\r\n/g, '\n').trim();
  return {
    messageId: normMessageId(p.messageId),
    inReplyTo: idList(p.inReplyTo)[0] ?? null,
    references: idList(p.references),
    from,
    to,
    cc,
    recipients: [...recipients],
    subject: (p.subject ?? '').slice(0, 998),
    text: text.slice(0, MAX_TEXT),
    html: typeof p.html === 'string' ? p.html.slice(0, MAX_HTML * 5) : null,
    date: p.date ? p.date.getTime() : null,
    autoSubmitted: autoSubmittedReason(p, from),
    bounce,
    attachments: p.attachments
      .filter((a) => !/^(message\/delivery-status|text\/rfc822-headers)$/i.test(a.contentType))
      .map((a) => ({
        filename: a.filename ?? (a.contentType === 'message/rfc822' ? 'message.eml' : 'attachment'),
        contentType: a.contentType,
        content: a.content,
        cid: a.contentId ? a.contentId.replace(/^<|>$/g, '') : null,
        inline: a.contentDisposition === 'inline' || a.related === true,
      })),
    sourceHash: crypto.createHash('sha256').update(raw).digest('hex'),
  };
}

/** A subject without reply and forward prefixes (Re:, Fwd:, AW:, 回复：, 转发: …), lower-cased, for matching. */
export function baseSubject(s: string | null | undefined): string {
  let t = (s ?? '').normalize('NFKC').trim();
  for (;;) {
    const next = t.replace(/^(re|fw|fwd|aw|wg|sv|vs|antw|odp|回复|回覆|答复|转发|轉寄)(\[\d+\])?\s*[:：]\s*/i, '').replace(/^\[#?\d+\]\s*/, '');
    if (next === t) break;
    t = next;
  }
  return t.replace(/\s+/g, ' ').toLowerCase();
}

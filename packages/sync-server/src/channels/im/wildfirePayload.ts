import { z } from 'zod';
import type { Message } from '@goutong/core';
import { Int64Id, Num, parseWildfireJson } from './wildfireApi.js';

/*
 * What the IM server POSTs to a robot's callback URL and to `message.forward.url`: Gson's
 * serialisation of `OutputMessageData` {messageId, sender, conv{type,target,line}, payload, toUsers,
 * timestamp, client?} (wildfirechat/im-server `common/src/main/java/cn/wildfirechat/pojos/OutputMessageData.java`),
 * unsigned, once, no retry; the HTTP answer is only logged. `payload` is a `MessagePayload`
 * (`type, searchableContent, pushContent, pushData, content, base64edData, mediaType, remoteMediaUrl,
 * persistFlag, expireDuration, mentionedType, mentionedTarget, extra`); the per-type encodings are in
 * wildfirechat/docs `md/server/predefined_message_content.md`:
 *   1 text {searchableContent}; 2 voice {remoteMediaUrl, content:"{\"duration\":7}"};
 *   3 image {remoteMediaUrl, base64edData: thumbnail}; 4 location {searchableContent: title,
 *   content:"{\"lat\":…,\"long\":…}", base64edData: map thumbnail}; 5 file {searchableContent: file
 *   name, content: size, remoteMediaUrl}; 6 video {content:"{\"d\":3,\"duration\":3}"}; 7 sticker;
 *   8 link {base64edData: base64 JSON {d,u,t}}; 10 card; 11 composite; 80 recall; 90 tip; 91 typing;
 *   104–124 group notifications; 400–417 VoIP signalling; persistFlag 4 = transparent (not stored).
 * Conversation types (md/base_knowledge/conversation.md): 0 single, 1 group, 2 chatroom, 3 channel, 5 secret.
 */

export const WfConversation = z.object({
  type: Num,
  target: z.string().min(1).max(256),
  line: Num.optional().default(0),
});

export const WfPayload = z.object({
  type: Num,
  searchableContent: z.string().max(100_000).optional(),
  pushContent: z.string().max(100_000).optional(),
  content: z.string().max(100_000).optional(),
  base64edData: z.string().max(2_000_000).optional(),
  mediaType: Num.optional(),
  remoteMediaUrl: z.string().max(4000).optional(),
  persistFlag: Num.optional(),
});
export type WfPayload = z.infer<typeof WfPayload>;

export const WfOutputMessage = z.object({
  messageId: Int64Id,
  sender: z.string().min(1).max(256),
  conv: WfConversation,
  payload: WfPayload,
  toUsers: z.array(z.string()).max(10_000).optional(),
  timestamp: Num.optional(),
});
export type WfOutputMessage = z.infer<typeof WfOutputMessage>;

export const ContentType = {
  TEXT: 1,
  VOICE: 2,
  IMAGE: 3,
  LOCATION: 4,
  FILE: 5,
  VIDEO: 6,
  STICKER: 7,
  LINK: 8,
  PTEXT: 9,
  CARD: 10,
  COMPOSITE: 11,
} as const;

export interface MappedInbound {
  kind: Message['kind'];
  text: string;
  /** Media to fetch from the IM server's media store and keep as an attachment. */
  media?: { url: string; name: string | null; fallbackMime: string; size?: number };
  meta: Record<string, unknown>;
}

/** Why a payload makes no message (typing, recall, notifications, signalling…), or null when it does. */
export function ignoredPayload(p: WfPayload): string | null {
  if (p.persistFlag === 4) return 'transparent (not persisted) message';
  const t = p.type;
  if (t >= 80 && t < 100) return `control message type ${t} (recall, delete, tip, typing…)`;
  if (t >= 100 && t < 200) return `notification type ${t}`;
  if (t >= 400 && t < 500) return `VoIP signalling type ${t}`;
  return null;
}

function jsonOf(s: string | undefined): Record<string, unknown> | null {
  if (!s) return null;
  try {
    const v = JSON.parse(s) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** base64edData holding JSON (quotes, links, cards); parsed losslessly (a quoted message id is 64-bit). */
function base64Json(s: string | undefined): Record<string, unknown> | null {
  if (!s) return null;
  try {
    const v = parseWildfireJson(Buffer.from(s, 'base64').toString('utf8'));
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

const finite = (v: unknown): number | null => {
  const n = typeof v === 'string' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) ? n : null;
};
const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);

/** Maps a WildfireChat payload to our message (text, kind, media to fetch, meta); null when it is not a message. */
export function mapPayload(p: WfPayload): MappedInbound | null {
  if (ignoredPayload(p)) return null;
  const sc = p.searchableContent ?? '';
  const url = p.remoteMediaUrl ?? '';
  const meta: Record<string, unknown> = { payloadType: p.type };
  switch (p.type) {
    case ContentType.TEXT:
    case ContentType.PTEXT: {
      const quote = base64Json(p.base64edData)?.quote as Record<string, unknown> | undefined;
      if (quote && typeof quote === 'object') {
        // {"quote":{u: messageUid, i: sender, n: name, d: digest}}; u is 64-bit, kept as a decimal string.
        const u = typeof quote.u === 'bigint' || typeof quote.u === 'number' || typeof quote.u === 'string' ? String(quote.u) : null;
        meta.quote = { messageId: u, sender: str(quote.i), name: str(quote.n), digest: str(quote.d) };
      }
      return { kind: 'text', text: sc || p.content || '', meta };
    }
    case ContentType.VOICE: {
      const duration = finite(jsonOf(p.content)?.duration);
      if (duration !== null) meta.duration = duration;
      return { kind: 'voice', text: sc || '[voice]', meta, ...(url ? { media: { url, name: null, fallbackMime: 'audio/amr' } } : {}) };
    }
    case ContentType.IMAGE:
    case ContentType.STICKER:
      return { kind: 'text', text: sc || (p.type === ContentType.IMAGE ? '[image]' : '[sticker]'), meta, ...(url ? { media: { url, name: null, fallbackMime: 'image/jpeg' } } : {}) };
    case ContentType.VIDEO: {
      const c = jsonOf(p.content);
      const duration = finite(c?.duration ?? c?.d);
      if (duration !== null) meta.duration = duration;
      return { kind: 'text', text: sc || '[video]', meta, ...(url ? { media: { url, name: null, fallbackMime: 'video/mp4' } } : {}) };
    }
    case ContentType.FILE: {
      const size = finite(p.content);
      if (size !== null) meta.size = size;
      const name = sc || null;
      return { kind: 'text', text: name ?? '[file]', meta, ...(url ? { media: { url, name, fallbackMime: 'application/octet-stream', ...(size !== null ? { size } : {}) } } : {}) };
    }
    case ContentType.LOCATION: {
      const c = jsonOf(p.content);
      const lat = finite(c?.lat);
      const long = finite(c?.long);
      const title = sc.trim();
      meta.location = { lat, long, title };
      const coords = lat !== null && long !== null ? `${lat}, ${long}` : '';
      return { kind: 'text', text: [title, coords && `(${coords})`].filter(Boolean).join(' ') || '[location]', meta };
    }
    case ContentType.LINK: {
      const l = base64Json(p.base64edData);
      const link = str(l?.u);
      meta.link = { url: link, digest: str(l?.d), thumbnail: str(l?.t) };
      return { kind: 'text', text: [sc, link].filter(Boolean).join('\n') || '[link]', meta };
    }
    case ContentType.CARD: {
      const c = base64Json(p.base64edData);
      meta.card = { target: p.content ?? null, cardType: finite(c?.t), name: str(c?.n), displayName: str(c?.d) };
      return { kind: 'text', text: `[card] ${str(c?.d) ?? str(c?.n) ?? p.content ?? ''}`.trim(), meta };
    }
    case ContentType.COMPOSITE:
      return { kind: 'text', text: [p.content, sc].filter(Boolean).join('\n') || '[chat history]', meta };
    default:
      meta.unsupported = true;
      return { kind: 'text', text: sc || p.content || p.pushContent || `[WildfireChat message type ${p.type}]`, meta };
  }
}

const EXT_MIME: Record<string, string> = {
  jpg: 'image/jpeg', jpeg: 'image/jpeg', png: 'image/png', gif: 'image/gif', webp: 'image/webp', bmp: 'image/bmp', heic: 'image/heic',
  amr: 'audio/amr', mp3: 'audio/mpeg', m4a: 'audio/mp4', aac: 'audio/aac', wav: 'audio/wav', ogg: 'audio/ogg', opus: 'audio/opus',
  mp4: 'video/mp4', mov: 'video/quicktime', pdf: 'application/pdf', txt: 'text/plain', zip: 'application/zip',
  doc: 'application/msword', docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xls: 'application/vnd.ms-excel', xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
};

/** The type of a media file: the server's Content-Type unless generic, else by extension, else the fallback. */
export function mediaMime(contentType: string | null, name: string, fallback: string): string {
  const ct = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (ct && ct !== 'application/octet-stream' && ct !== 'binary/octet-stream') return ct;
  const ext = /\.([a-z0-9]{1,5})$/i.exec(name)?.[1]?.toLowerCase();
  return (ext && EXT_MIME[ext]) || fallback;
}

/** The last path segment of a media URL, decoded, as a file name. */
export function mediaName(url: URL, fallback: string): string {
  const last = url.pathname.split('/').filter(Boolean).pop();
  if (!last) return fallback;
  try {
    return decodeURIComponent(last);
  } catch {
    return last;
  }
}

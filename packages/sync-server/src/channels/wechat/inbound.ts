import { z } from 'zod';
import type { XmlNode } from '../wechat-common/xml.js';

/*
 * The messages an Official Account receives (公众号 "接收普通消息" / "接收事件推送"), after
 * decryption: a flat `<xml>` with ToUserName (the account's gh_ id), FromUserName (the user's
 * openid), CreateTime (seconds), MsgType and, per type, Content / PicUrl+MediaId / MediaId+Format
 * (+Recognition) / Location_X… / Title+Url, MsgId; events carry Event (+EventKey).
 */

const Str = (max: number) => z.string().max(max);
const Digits = z.string().regex(/^\d{1,20}$/);

const Base = z.object({
  ToUserName: Str(128),
  FromUserName: z.string().min(1).max(128),
  CreateTime: Digits,
});

export const WechatInbound = z.discriminatedUnion('MsgType', [
  Base.extend({ MsgType: z.literal('text'), Content: Str(20_000), MsgId: Digits }),
  Base.extend({ MsgType: z.literal('image'), PicUrl: Str(2000).optional(), MediaId: z.string().min(1).max(256), MsgId: Digits }),
  Base.extend({ MsgType: z.literal('voice'), MediaId: z.string().min(1).max(256), Format: Str(32).optional(), Recognition: Str(20_000).optional(), MsgId: Digits }),
  Base.extend({ MsgType: z.literal('video'), MediaId: z.string().min(1).max(256), ThumbMediaId: Str(256).optional(), MsgId: Digits }),
  Base.extend({ MsgType: z.literal('shortvideo'), MediaId: z.string().min(1).max(256), ThumbMediaId: Str(256).optional(), MsgId: Digits }),
  Base.extend({ MsgType: z.literal('location'), Location_X: Str(32), Location_Y: Str(32), Scale: Str(16).optional(), Label: Str(2000).optional(), MsgId: Digits }),
  Base.extend({ MsgType: z.literal('link'), Title: Str(2000).optional(), Description: Str(20_000).optional(), Url: Str(4000).optional(), MsgId: Digits }),
  Base.extend({ MsgType: z.literal('event'), Event: z.string().min(1).max(64), EventKey: Str(2000).optional(), Ticket: Str(2000).optional() }),
]);
export type WechatInbound = z.infer<typeof WechatInbound>;

/** Only the text children (nested event details are not needed). */
export function flatFields(node: XmlNode): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(node)) {
    if (typeof v === 'string') out[k] = v;
    else if (Array.isArray(v) && typeof v[0] === 'string') out[k] = v[0];
  }
  return out;
}

export type MappedWechat =
  | { kind: 'message'; externalId: string; text: string; msgKind: 'text' | 'voice'; media?: { mediaId: string; fallbackName: string; fallbackMime: string }; meta: Record<string, unknown> }
  | { kind: 'event'; externalId: string; event: 'subscribe' | 'unsubscribe'; text: string; meta: Record<string, unknown> }
  | { kind: 'ignored'; why: string };

/** What to store for one inbound; the external id is MsgId, or for events FromUserName + CreateTime + Event (WeChat's own dedupe advice). */
export function mapWechatInbound(m: WechatInbound): MappedWechat {
  const meta: Record<string, unknown> = { provider: 'wechat-official', msgType: m.MsgType, openid: m.FromUserName, account: m.ToUserName, createTime: Number(m.CreateTime) };
  switch (m.MsgType) {
    case 'text':
      return { kind: 'message', externalId: m.MsgId, text: m.Content, msgKind: 'text', meta: { ...meta, msgId: m.MsgId } };
    case 'image':
      return { kind: 'message', externalId: m.MsgId, text: '[图片]', msgKind: 'text', media: { mediaId: m.MediaId, fallbackName: `image-${m.MsgId}.jpg`, fallbackMime: 'image/jpeg' }, meta: { ...meta, msgId: m.MsgId, mediaId: m.MediaId, ...(m.PicUrl ? { picUrl: m.PicUrl } : {}) } };
    case 'voice': {
      const fmt = (m.Format ?? 'amr').toLowerCase().replace(/[^a-z0-9]/g, '') || 'amr';
      return {
        kind: 'message',
        externalId: m.MsgId,
        text: m.Recognition?.trim() || '[语音]',
        msgKind: 'voice',
        media: { mediaId: m.MediaId, fallbackName: `voice-${m.MsgId}.${fmt}`, fallbackMime: fmt === 'speex' ? 'audio/speex' : fmt === 'mp3' ? 'audio/mpeg' : 'audio/amr' },
        meta: { ...meta, msgId: m.MsgId, mediaId: m.MediaId, format: fmt, ...(m.Recognition ? { recognition: m.Recognition } : {}) },
      };
    }
    case 'video':
    case 'shortvideo':
      // Video is fetched by the agent from WeChat's video_url; not stored here.
      return { kind: 'message', externalId: m.MsgId, text: '[视频]', msgKind: 'text', meta: { ...meta, msgId: m.MsgId, mediaId: m.MediaId } };
    case 'location': {
      const lat = Number(m.Location_X);
      const lng = Number(m.Location_Y);
      return { kind: 'message', externalId: m.MsgId, text: `${m.Label?.trim() || '[位置]'} (${m.Location_X}, ${m.Location_Y})`, msgKind: 'text', meta: { ...meta, msgId: m.MsgId, location: { lat, lng, label: m.Label ?? null } } };
    }
    case 'link':
      return { kind: 'message', externalId: m.MsgId, text: [m.Title, m.Url].filter(Boolean).join('\n') || '[链接]', msgKind: 'text', meta: { ...meta, msgId: m.MsgId, link: { title: m.Title ?? null, url: m.Url ?? null, description: m.Description ?? null } } };
    case 'event': {
      const ev = m.Event.toLowerCase();
      const externalId = `event:${m.FromUserName}:${m.CreateTime}:${ev}`;
      if (ev === 'subscribe') {
        const scene = m.EventKey?.startsWith('qrscene_') ? m.EventKey.slice('qrscene_'.length) : undefined;
        return { kind: 'event', externalId, event: 'subscribe', text: 'Followed the Official Account · 关注了公众号', meta: { ...meta, event: 'subscribe', ...(scene ? { qrScene: scene } : {}) } };
      }
      if (ev === 'unsubscribe') return { kind: 'event', externalId, event: 'unsubscribe', text: 'Unfollowed the Official Account · 取消关注了公众号', meta: { ...meta, event: 'unsubscribe' } };
      return { kind: 'ignored', why: `event ${m.Event}` };
    }
  }
}

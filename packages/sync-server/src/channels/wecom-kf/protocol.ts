import { z } from 'zod';

/*
 * WeChat Customer Service through WeCom (微信客服, developer.work.weixin.qq.com "微信客服" API):
 * - callback (回调): GET with msg_signature/timestamp/nonce/echostr (echostr encrypted: decrypt and
 *   answer it), POST `<xml><ToUserName>corpid</ToUserName><AgentID/><Encrypt/></xml>`; decrypted, the
 *   event `kf_msg_or_event` with `Token` and `OpenKfId` says "there is something to pull".
 * - `POST cgi-bin/kf/sync_msg {cursor, token, limit, voice_format, open_kfid}` → `{errcode, errmsg,
 *   next_cursor, has_more, msg_list:[{msgid, open_kfid, external_userid, send_time, origin, msgtype, …}]}`;
 *   origin 3 = the WeChat customer, 4 = a system event, 5 = a servicer (WeCom client or API).
 * - `POST cgi-bin/kf/send_msg {touser, open_kfid, msgid?, msgtype, text|image}` → `{errcode, errmsg, msgid}`;
 *   `msgid` (≤ 32 of [0-9a-zA-Z_-]) is chosen by the caller: our idempotency key.
 * - `POST cgi-bin/kf/service_state/get {open_kfid, external_userid}` → `{service_state, servicer_userid}`;
 *   `…/trans {open_kfid, external_userid, service_state, servicer_userid?}` → `{msg_code}`. States:
 *   0 untreated, 1 smart assistant (API), 2 queued for a servicer, 3 a human servicer, 4 ended.
 */

const Int = z.union([z.number().int(), z.string().regex(/^\d{1,15}$/).transform(Number)]);

export const KfMessage = z.looseObject({
  msgid: z.string().min(1).max(128),
  open_kfid: z.string().max(128).optional(),
  external_userid: z.string().max(128).optional(),
  send_time: Int.optional(),
  origin: Int,
  servicer_userid: z.string().max(128).optional(),
  msgtype: z.string().min(1).max(32),
  text: z.object({ content: z.string().max(20_000), menu_id: z.string().max(128).optional() }).optional(),
  image: z.object({ media_id: z.string().min(1).max(512) }).optional(),
  voice: z.object({ media_id: z.string().min(1).max(512) }).optional(),
  file: z.object({ media_id: z.string().min(1).max(512) }).optional(),
  location: z.object({ latitude: z.number(), longitude: z.number(), name: z.string().max(2000).optional(), address: z.string().max(2000).optional() }).optional(),
  link: z.object({ title: z.string().max(2000).optional(), desc: z.string().max(20_000).optional(), url: z.string().max(4000).optional() }).optional(),
  event: z.looseObject({ event_type: z.string().max(64), open_kfid: z.string().max(128).optional(), external_userid: z.string().max(128).optional(), scene: z.string().max(256).optional() }).optional(),
});
export type KfMessage = z.infer<typeof KfMessage>;

export const SyncMsgAnswer = z.looseObject({
  next_cursor: z.string().max(1024).optional().default(''),
  has_more: Int.optional().default(0),
  msg_list: z.array(z.unknown()).max(1000).optional().default([]),
});

export const ServiceStateAnswer = z.looseObject({ service_state: Int, servicer_userid: z.string().max(128).optional() });

export const KF_STATES: Record<number, string> = {
  0: 'untreated (未处理)',
  1: 'smart assistant (由智能助手接待)',
  2: 'queued for a servicer (待接入池排队中)',
  3: 'with a human servicer (由人工接待)',
  4: 'ended (已结束)',
};

export type MappedKf =
  | { kind: 'message'; externalUserId: string; text: string; msgKind: 'text' | 'voice'; media?: { mediaId: string; fallbackName: string; fallbackMime: string }; meta: Record<string, unknown> }
  | { kind: 'event'; externalUserId: string; text: string; meta: Record<string, unknown> }
  | { kind: 'ignored'; why: string };

/** What to store for one pulled message: customers' messages and the enter-session event; servicers' own messages and other events are not stored. */
export function mapKfMessage(m: KfMessage): MappedKf {
  const meta: Record<string, unknown> = { provider: 'wecom-kf', msgid: m.msgid, msgtype: m.msgtype, openKfId: m.open_kfid ?? null, origin: m.origin };
  if (m.origin === 4 && m.msgtype === 'event' && m.event) {
    const user = m.event.external_userid;
    if (m.event.event_type === 'enter_session' && user) {
      return { kind: 'event', externalUserId: user, text: 'Entered the customer-service session · 进入会话', meta: { ...meta, event: 'enter_session', ...(m.event.scene ? { scene: m.event.scene } : {}) } };
    }
    return { kind: 'ignored', why: `event ${m.event.event_type}` };
  }
  if (m.origin !== 3 || !m.external_userid) return { kind: 'ignored', why: `origin ${m.origin}` };
  const user = m.external_userid;
  switch (m.msgtype) {
    case 'text':
      return { kind: 'message', externalUserId: user, text: m.text?.content ?? '', msgKind: 'text', meta: { ...meta, ...(m.text?.menu_id ? { menuId: m.text.menu_id } : {}) } };
    case 'image':
      return m.image
        ? { kind: 'message', externalUserId: user, text: '[图片]', msgKind: 'text', media: { mediaId: m.image.media_id, fallbackName: `image-${m.msgid.slice(0, 40)}.jpg`, fallbackMime: 'image/jpeg' }, meta: { ...meta, mediaId: m.image.media_id } }
        : { kind: 'ignored', why: 'image without media_id' };
    case 'voice':
      return m.voice
        ? { kind: 'message', externalUserId: user, text: '[语音]', msgKind: 'voice', media: { mediaId: m.voice.media_id, fallbackName: `voice-${m.msgid.slice(0, 40)}.amr`, fallbackMime: 'audio/amr' }, meta: { ...meta, mediaId: m.voice.media_id } }
        : { kind: 'ignored', why: 'voice without media_id' };
    case 'file':
      return m.file
        ? { kind: 'message', externalUserId: user, text: '[文件]', msgKind: 'text', media: { mediaId: m.file.media_id, fallbackName: `file-${m.msgid.slice(0, 40)}`, fallbackMime: 'application/octet-stream' }, meta: { ...meta, mediaId: m.file.media_id } }
        : { kind: 'ignored', why: 'file without media_id' };
    case 'location':
      return m.location
        ? { kind: 'message', externalUserId: user, text: `${m.location.name || m.location.address || '[位置]'} (${m.location.latitude}, ${m.location.longitude})`, msgKind: 'text', meta: { ...meta, location: m.location } }
        : { kind: 'ignored', why: 'location without coordinates' };
    case 'link':
      return { kind: 'message', externalUserId: user, text: [m.link?.title, m.link?.url].filter(Boolean).join('\n') || '[链接]', msgKind: 'text', meta: { ...meta, link: m.link ?? null } };
    default:
      return { kind: 'message', externalUserId: user, text: `[${m.msgtype}]`, msgKind: 'text', meta };
  }
}

import crypto from 'node:crypto';
import type http from 'node:http';
import { HttpFake } from './httpFake.js';

/*
 * A fake of WeChat's servers, written from the public documentation and sharing no code with the
 * providers:
 * - Official Account (公众号, developers.weixin.qq.com/doc/offiaccount): `GET /cgi-bin/token`
 *   (grant_type=client_credential, appid, secret → {access_token, expires_in}); `POST
 *   /cgi-bin/message/custom/send` (JSON, only within 48 h of the user's last message: 45015
 *   otherwise); `GET /cgi-bin/media/get` (bytes + Content-Disposition, or {errcode:40007});
 *   `POST /cgi-bin/media/upload?type=image` (multipart field "media" → {type, media_id, created_at}).
 *   Callbacks: the server URL gets `signature = sha1(sort(token, timestamp, nonce))` and, in safe
 *   mode, `encrypt_type=aes` + `msg_signature = sha1(sort(token, timestamp, nonce, Encrypt))` with the
 *   XML AES-256-CBC encrypted (key = base64(EncodingAESKey + "="), IV = key[0..16], PKCS#7 to 32,
 *   random16 + len(4, BE) + xml + AppID). URL verification: GET with echostr, answered verbatim.
 * - WeChat Customer Service through WeCom (developer.work.weixin.qq.com 微信客服): `GET
 *   /cgi-bin/gettoken` (corpid, corpsecret); `POST /cgi-bin/kf/sync_msg` ({cursor, token, limit,
 *   open_kfid} → {next_cursor, has_more, msg_list}, the token from the callback valid 10 minutes);
 *   `POST /cgi-bin/kf/send_msg` ({touser, open_kfid, msgid, msgtype…} → {msgid}); `POST
 *   /cgi-bin/kf/service_state/get|trans`. Callbacks are always encrypted with the CorpID and carry only
 *   msg_signature; the decrypted event kf_msg_or_event names the Token and OpenKfId.
 * Every API call checks its access_token: unknown → 40014, revoked → 40001, expired → 42001.
 */

const sha1 = (...parts: string[]) => crypto.createHash('sha1').update([...parts].sort().join('')).digest('hex');

function aesKey(encodingAesKey: string): Buffer {
  return Buffer.from(`${encodingAesKey}=`, 'base64');
}

export function fakeEncrypt(encodingAesKey: string, receiveId: string, xml: string): string {
  const key = aesKey(encodingAesKey);
  const msg = Buffer.from(xml, 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(msg.length);
  let plain = Buffer.concat([crypto.randomBytes(16), len, msg, Buffer.from(receiveId)]);
  const n = 32 - (plain.length % 32);
  plain = Buffer.concat([plain, Buffer.alloc(n, n)]);
  const c = crypto.createCipheriv('aes-256-cbc', key, key.subarray(0, 16)).setAutoPadding(false);
  return Buffer.concat([c.update(plain), c.final()]).toString('base64');
}

/** Flat WeChat XML as the platform writes it: strings in CDATA, numbers bare. */
export function fakeXml(fields: Record<string, string | number>): string {
  return `<xml>${Object.entries(fields).map(([k, v]) => `<${k}>${typeof v === 'number' ? v : `<![CDATA[${v}]]>`}</${k}>`).join('')}</xml>`;
}

const rand = (n = 8) => crypto.randomBytes(n).toString('hex');
const HOUR = 3_600_000;

export interface FakeMedia {
  bytes: Buffer;
  mime: string;
  name: string;
}

export interface CallbackResult {
  status: number;
  body: string;
  url: string;
  xml: string;
}

interface TokenRow {
  app: string;
  expiresAt: number;
  revoked: boolean;
}

export interface KfLogEntry {
  msgid: string;
  open_kfid: string;
  external_userid?: string;
  send_time: number;
  origin: number;
  msgtype: string;
  [k: string]: unknown;
}

export class FakeWechat extends HttpFake {
  // ----- Official Account -----
  appId = `wx${rand(8)}`;
  appSecret = `secret-${rand(8)}`;
  token = `tok${rand(6)}`;
  encodingAesKey = crypto.randomBytes(32).toString('base64').slice(0, 43).replace(/[+/]/g, 'A');
  /** The account's original id (gh_…), ToUserName of every message. */
  ghId = `gh_${rand(6)}`;
  /** What the server URL is (set by the test) and how messages are posted. */
  serverUrl: string | null = null;
  mode: 'plaintext' | 'safe' = 'safe';
  /** Token lifetime the token endpoint hands out (seconds). */
  expiresIn = 7200;
  /** The fake's clock (the 48-hour window it enforces). */
  now = () => Date.now();
  readonly lastUserMessageAt = new Map<string, number>();
  readonly customSent: { touser: string; msgtype: string; body: Record<string, unknown>; token: string }[] = [];
  readonly uploads: { mediaId: string; name: string; mime: string; bytes: Buffer; field: string }[] = [];
  readonly mediaGets: string[] = [];
  /** Calls refused for their access_token (40014, 40001, 42001), in order. */
  readonly tokenErrors: number[] = [];
  /** Token requests per app key (appid or corpid). */
  readonly tokenRequests: string[] = [];
  private msgSeq = 6054768590064713728n;

  // ----- WeCom customer service -----
  corpId = `ww${rand(8)}`;
  kfSecret = `kfsecret-${rand(8)}`;
  kfToken = `kf${rand(6)}`;
  kfAesKey = crypto.randomBytes(32).toString('base64').slice(0, 43).replace(/[+/]/g, 'B');
  openKfId = `wk${rand(12)}`;
  kfCallbackUrl: string | null = null;
  /** The kf message log (what sync_msg pages through), per account. */
  readonly kfLog: KfLogEntry[] = [];
  /** sync_msg page size cap (the real limit is 1000; small here to page). */
  kfPageSize = 1000;
  readonly syncCalls: { cursor: string; token: string | null; limit: number; open_kfid: string }[] = [];
  readonly kfSent: { touser: string; open_kfid: string; msgid: string; msgtype: string; body: Record<string, unknown> }[] = [];
  readonly sessionStates = new Map<string, { state: number; servicer?: string }>();
  readonly stateTrans: { external_userid: string; service_state: number }[] = [];
  /** Nicknames kf/customer/batchget answers. */
  readonly customers = new Map<string, string>();
  private readonly kfCallbackTokens = new Map<string, number>();

  // ----- shared -----
  readonly media = new Map<string, FakeMedia>();
  private readonly tokens = new Map<string, TokenRow>();
  /** Answer the next API calls (not token requests) with these errcodes. */
  readonly failCodes: number[] = [];

  /** Invalidates every token of an app (as a new token from elsewhere or a secret reset would). */
  revokeTokens(app: string): void {
    for (const t of this.tokens.values()) if (t.app === app) t.revoked = true;
  }
  expireTokens(app: string): void {
    for (const t of this.tokens.values()) if (t.app === app) t.expiresAt = 0;
  }

  putMedia(bytes: Buffer, mime: string, name: string): string {
    const id = `MEDIA_${rand(12)}`;
    this.media.set(id, { bytes, mime, name });
    return id;
  }

  private json(res: http.ServerResponse, body: unknown, status = 200): void {
    res.writeHead(status, { 'content-type': 'application/json; encoding=utf-8' }).end(JSON.stringify(body));
  }

  private checkToken(url: URL): { ok: true; app: string; token: string } | { ok: false; errcode: number; errmsg: string } {
    const t = url.searchParams.get('access_token') ?? '';
    const row = this.tokens.get(t);
    if (!row) return { ok: false, errcode: 40014, errmsg: 'invalid access_token' };
    if (row.revoked) return { ok: false, errcode: 40001, errmsg: 'invalid credential, access_token is invalid or not latest' };
    if (row.expiresAt <= this.now()) return { ok: false, errcode: 42001, errmsg: 'access_token expired' };
    return { ok: true, app: row.app, token: t };
  }

  private issue(app: string): { access_token: string; expires_in: number } {
    const t = `ACCESS_${rand(16)}`;
    this.tokens.set(t, { app, expiresAt: this.now() + this.expiresIn * 1000, revoked: false });
    return { access_token: t, expires_in: this.expiresIn };
  }

  protected async handle(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.baseUrl);
    const p = url.pathname;
    if (p === '/cgi-bin/token' && req.method === 'GET') {
      this.tokenRequests.push(url.searchParams.get('appid') ?? '');
      if (url.searchParams.get('grant_type') !== 'client_credential') return this.json(res, { errcode: 40002, errmsg: 'invalid grant_type' });
      if (url.searchParams.get('appid') !== this.appId) return this.json(res, { errcode: 40013, errmsg: 'invalid appid' });
      if (url.searchParams.get('secret') !== this.appSecret) return this.json(res, { errcode: 40125, errmsg: 'invalid appsecret' });
      return this.json(res, this.issue(this.appId));
    }
    if (p === '/cgi-bin/gettoken' && req.method === 'GET') {
      this.tokenRequests.push(url.searchParams.get('corpid') ?? '');
      if (url.searchParams.get('corpid') !== this.corpId) return this.json(res, { errcode: 40013, errmsg: 'invalid corpid' });
      if (url.searchParams.get('corpsecret') !== this.kfSecret) return this.json(res, { errcode: 40001, errmsg: 'invalid credential' });
      return this.json(res, { errcode: 0, errmsg: 'ok', ...this.issue(this.corpId) });
    }
    const auth = this.checkToken(url);
    if (!auth.ok) {
      this.tokenErrors.push(auth.errcode);
      return this.json(res, { errcode: auth.errcode, errmsg: auth.errmsg });
    }
    const fail = this.failCodes.shift();
    if (fail !== undefined) return this.json(res, { errcode: fail, errmsg: `injected ${fail}` });

    if (p === '/cgi-bin/media/get' && req.method === 'GET') {
      const id = url.searchParams.get('media_id') ?? '';
      this.mediaGets.push(id);
      const m = this.media.get(id);
      if (!m) return this.json(res, { errcode: 40007, errmsg: 'invalid media_id' });
      res.writeHead(200, { 'content-type': m.mime, 'content-disposition': `attachment; filename="${m.name}"`, 'content-length': String(m.bytes.length) }).end(m.bytes);
      return;
    }
    if (p === '/cgi-bin/media/upload' && req.method === 'POST') {
      const type = url.searchParams.get('type');
      if (!type || !['image', 'voice', 'video', 'thumb', 'file'].includes(type)) return this.json(res, { errcode: 40004, errmsg: 'invalid media type' });
      const part = parseMultipart(req.headers['content-type'] ?? '', body);
      if (!part || part.field !== 'media') return this.json(res, { errcode: 41005, errmsg: 'media data missing' });
      const id = this.putMedia(part.bytes, part.mime, part.name);
      this.uploads.push({ mediaId: id, ...part });
      return this.json(res, { type, media_id: id, created_at: Math.floor(this.now() / 1000) });
    }
    let j: Record<string, unknown>;
    try {
      j = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    } catch {
      return this.json(res, { errcode: 47001, errmsg: 'data format error' });
    }
    if (p === '/cgi-bin/message/custom/send' && auth.app === this.appId) {
      const touser = String(j.touser ?? '');
      const msgtype = String(j.msgtype ?? '');
      if (!touser) return this.json(res, { errcode: 40003, errmsg: 'invalid openid' });
      const last = this.lastUserMessageAt.get(touser);
      if (last === undefined || this.now() - last >= 48 * HOUR) return this.json(res, { errcode: 45015, errmsg: 'response out of time limit or subscription is canceled' });
      if (msgtype === 'text' && typeof (j.text as { content?: unknown } | undefined)?.content !== 'string') return this.json(res, { errcode: 44003, errmsg: 'empty news data' });
      if (msgtype === 'image' && !this.media.has(String((j.image as { media_id?: unknown } | undefined)?.media_id))) return this.json(res, { errcode: 40007, errmsg: 'invalid media_id' });
      if (msgtype !== 'text' && msgtype !== 'image') return this.json(res, { errcode: 40008, errmsg: 'invalid message type' });
      this.customSent.push({ touser, msgtype, body: j, token: auth.token });
      return this.json(res, { errcode: 0, errmsg: 'ok' });
    }
    if (auth.app !== this.corpId) return this.json(res, { errcode: 48001, errmsg: 'api unauthorized' });
    if (p === '/cgi-bin/kf/sync_msg') {
      const cursor = typeof j.cursor === 'string' ? j.cursor : '';
      const token = typeof j.token === 'string' ? j.token : null;
      const limit = typeof j.limit === 'number' ? j.limit : 1000;
      const kf = String(j.open_kfid ?? '');
      this.syncCalls.push({ cursor, token, limit, open_kfid: kf });
      if (token !== null) {
        const at = this.kfCallbackTokens.get(token);
        if (at === undefined || this.now() - at > 10 * 60_000) return this.json(res, { errcode: 95007, errmsg: 'invalid msg token' });
      }
      if (limit < 1 || limit > 1000) return this.json(res, { errcode: 44004, errmsg: 'invalid limit' });
      let from = 0;
      if (cursor) {
        const m = /^C(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
        if (!m) return this.json(res, { errcode: 95008, errmsg: 'invalid cursor' });
        from = Number(m[1]);
      }
      const mine = this.kfLog.filter((e) => !kf || e.open_kfid === kf);
      const page = mine.slice(from, from + Math.min(limit, this.kfPageSize));
      const next = from + page.length;
      return this.json(res, { errcode: 0, errmsg: 'ok', next_cursor: Buffer.from(`C${next}`).toString('base64url'), has_more: next < mine.length ? 1 : 0, msg_list: page });
    }
    if (p === '/cgi-bin/kf/send_msg') {
      const touser = String(j.touser ?? '');
      const kf = String(j.open_kfid ?? '');
      const msgid = typeof j.msgid === 'string' ? j.msgid : `sent_${rand(8)}`;
      if (kf !== this.openKfId) return this.json(res, { errcode: 95000, errmsg: 'invalid open_kfid' });
      if (!/^[0-9a-zA-Z_-]{1,32}$/.test(msgid)) return this.json(res, { errcode: 40058, errmsg: 'invalid msgid' });
      const lastIn = [...this.kfLog].reverse().find((e) => e.origin === 3 && e.external_userid === touser);
      if (!lastIn || this.now() - lastIn.send_time * 1000 >= 48 * HOUR) return this.json(res, { errcode: 95001, errmsg: 'send msg count limit' });
      const state = this.sessionStates.get(touser)?.state ?? 0;
      if (state !== 0 && state !== 1 && state !== 4) return this.json(res, { errcode: 95016, errmsg: 'session state not allowed' });
      if (this.kfSent.some((x) => x.msgid === msgid)) return this.json(res, { errcode: 0, errmsg: 'ok', msgid });
      this.kfSent.push({ touser, open_kfid: kf, msgid, msgtype: String(j.msgtype ?? ''), body: j });
      this.kfLog.push({ msgid, open_kfid: kf, external_userid: touser, send_time: Math.floor(this.now() / 1000), origin: 5, msgtype: String(j.msgtype), ...(j.text ? { text: j.text } : {}), ...(j.image ? { image: j.image } : {}) });
      return this.json(res, { errcode: 0, errmsg: 'ok', msgid });
    }
    if (p === '/cgi-bin/kf/customer/batchget') {
      const ids = Array.isArray(j.external_userid_list) ? (j.external_userid_list as unknown[]).map(String) : [];
      if (ids.length === 0 || ids.length > 100) return this.json(res, { errcode: 40058, errmsg: 'invalid external_userid_list' });
      const known = ids.filter((id) => this.customers.has(id));
      return this.json(res, {
        errcode: 0,
        errmsg: 'ok',
        customer_list: known.map((id) => ({ external_userid: id, nickname: this.customers.get(id), avatar: 'http://wx.qlogo.cn/x', gender: 0, unionid: `u_${id}` })),
        invalid_external_userid: ids.filter((id) => !this.customers.has(id)),
      });
    }
    if (p === '/cgi-bin/kf/service_state/get') {
      const s = this.sessionStates.get(String(j.external_userid ?? '')) ?? { state: 0 };
      return this.json(res, { errcode: 0, errmsg: 'ok', service_state: s.state, ...(s.servicer ? { servicer_userid: s.servicer } : {}) });
    }
    if (p === '/cgi-bin/kf/service_state/trans') {
      const user = String(j.external_userid ?? '');
      const to = Number(j.service_state);
      const from = this.sessionStates.get(user)?.state ?? 0;
      if (!(from === 0 && (to === 1 || to === 2 || to === 3 || to === 4)) && !(from === 1 && to !== 0)) return this.json(res, { errcode: 95016, errmsg: 'session state transition not allowed' });
      this.sessionStates.set(user, { state: to });
      this.stateTrans.push({ external_userid: user, service_state: to });
      return this.json(res, { errcode: 0, errmsg: 'ok', msg_code: `MSGCODE_${rand(4)}` });
    }
    this.json(res, { errcode: 40066, errmsg: 'invalid url' }, 404);
  }

  // ----- Official Account callbacks -----

  /** The query and body WeChat would post for this message XML (signed, encrypted in safe mode). */
  signedCallback(xml: string, opts: { token?: string; timestamp?: string; nonce?: string } = {}): { query: string; body: string } {
    const token = opts.token ?? this.token;
    const timestamp = opts.timestamp ?? String(Math.floor(this.now() / 1000));
    const nonce = opts.nonce ?? String(crypto.randomInt(1e8, 2e9));
    const q = new URLSearchParams({ signature: sha1(token, timestamp, nonce), timestamp, nonce });
    let body = xml;
    if (this.mode === 'safe') {
      const enc = fakeEncrypt(this.encodingAesKey, this.appId, xml);
      q.set('encrypt_type', 'aes');
      q.set('msg_signature', sha1(token, timestamp, nonce, enc));
      body = fakeXml({ ToUserName: this.ghId, Encrypt: enc });
    }
    return { query: q.toString(), body };
  }

  async post(query: string, body: string): Promise<CallbackResult> {
    if (!this.serverUrl) throw new Error('serverUrl not set');
    const url = `${this.serverUrl}?${query}`;
    const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'text/xml' }, body });
    return { status: r.status, body: await r.text(), url, xml: body };
  }

  /** A user's message reaches the account: posted as WeChat does (records the 48-hour window). */
  async userSends(openid: string, fields: Record<string, string | number>, opts: { msgId?: string } = {}): Promise<CallbackResult & { msgId: string; query: string; requestBody: string }> {
    const isEvent = fields.MsgType === 'event';
    const msgId = opts.msgId ?? (this.msgSeq++).toString();
    const xml = fakeXml({ ToUserName: this.ghId, FromUserName: openid, CreateTime: Math.floor(this.now() / 1000), ...fields, ...(isEvent ? {} : { MsgId: msgId }) });
    if (!(isEvent && fields.Event === 'unsubscribe')) this.lastUserMessageAt.set(openid, this.now());
    else this.lastUserMessageAt.delete(openid);
    const { query, body } = this.signedCallback(xml);
    const r = await this.post(query, body);
    return { ...r, msgId, query, requestBody: body };
  }

  /** The server-configuration check: GET with signature, timestamp, nonce, echostr. */
  async verifyUrl(opts: { token?: string } = {}): Promise<{ status: number; body: string; echostr: string }> {
    const timestamp = String(Math.floor(this.now() / 1000));
    const nonce = String(crypto.randomInt(1e8, 2e9));
    const echostr = String(crypto.randomInt(1e9, 2e9)) + String(crypto.randomInt(1e9, 2e9));
    const q = new URLSearchParams({ signature: sha1(opts.token ?? this.token, timestamp, nonce), timestamp, nonce, echostr });
    const r = await fetch(`${this.serverUrl}?${q.toString()}`);
    return { status: r.status, body: await r.text(), echostr };
  }

  // ----- WeCom kf callbacks -----

  private kfMsgSeq = 0;

  /** A WeChat customer writes to the kf account: appended to the log, then the kf_msg_or_event callback. */
  async customerSends(externalUserId: string, msg: { msgtype: string; [k: string]: unknown }, opts: { callback?: boolean } = {}): Promise<{ msgid: string; callback: CallbackResult | null }> {
    const msgid = `kfmsg_${++this.kfMsgSeq}_${rand(4)}`;
    const prev = this.sessionStates.get(externalUserId);
    if (!prev || prev.state === 4) this.sessionStates.set(externalUserId, { state: 0 });
    this.kfLog.push({ msgid, open_kfid: this.openKfId, external_userid: externalUserId, send_time: Math.floor(this.now() / 1000), origin: 3, ...msg });
    const callback = opts.callback === false ? null : await this.kfNotify();
    return { msgid, callback };
  }

  /** A system event in the log (enter_session…), with a callback. */
  async kfEvent(event: Record<string, unknown>): Promise<CallbackResult> {
    this.kfLog.push({ msgid: `kfevt_${++this.kfMsgSeq}`, open_kfid: this.openKfId, send_time: Math.floor(this.now() / 1000), origin: 4, msgtype: 'event', event: { open_kfid: this.openKfId, ...event } });
    return this.kfNotify();
  }

  /** POSTs the encrypted kf_msg_or_event callback (a fresh sync token, valid 10 minutes). */
  async kfNotify(opts: { token?: string; url?: string } = {}): Promise<CallbackResult> {
    const target = opts.url ?? this.kfCallbackUrl;
    if (!target) throw new Error('kfCallbackUrl not set');
    const syncToken = `ENC${rand(12)}`;
    this.kfCallbackTokens.set(syncToken, this.now());
    const inner = fakeXml({ ToUserName: this.corpId, CreateTime: Math.floor(this.now() / 1000), MsgType: 'event', Event: 'kf_msg_or_event', Token: syncToken, OpenKfId: this.openKfId });
    const enc = fakeEncrypt(this.kfAesKey, this.corpId, inner);
    const timestamp = String(Math.floor(this.now() / 1000));
    const nonce = String(crypto.randomInt(1e8, 2e9));
    const q = new URLSearchParams({ msg_signature: sha1(opts.token ?? this.kfToken, timestamp, nonce, enc), timestamp, nonce });
    const body = fakeXml({ ToUserName: this.corpId, AgentID: '', Encrypt: enc });
    const url = `${target}?${q.toString()}`;
    const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'text/xml' }, body });
    return { status: r.status, body: await r.text(), url, xml: body };
  }

  /** WeCom's callback URL check: msg_signature over the encrypted echostr; expects the plaintext back. */
  async kfVerifyUrl(opts: { token?: string } = {}): Promise<{ status: number; body: string; echo: string }> {
    const echo = String(crypto.randomInt(1e9, 2e9)) + String(crypto.randomInt(1e9, 2e9));
    const echostr = fakeEncrypt(this.kfAesKey, this.corpId, echo);
    const timestamp = String(Math.floor(this.now() / 1000));
    const nonce = String(crypto.randomInt(1e8, 2e9));
    const q = new URLSearchParams({ msg_signature: sha1(opts.token ?? this.kfToken, timestamp, nonce, echostr), timestamp, nonce, echostr });
    const r = await fetch(`${this.kfCallbackUrl}?${q.toString()}`);
    return { status: r.status, body: await r.text(), echo };
  }
}

/** One file part of a multipart/form-data body. */
function parseMultipart(contentType: string, body: Buffer): { field: string; name: string; mime: string; bytes: Buffer } | null {
  const m = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  if (!m) return null;
  const boundary = Buffer.from(`--${m[1] ?? m[2]}`);
  const start = body.indexOf(boundary);
  if (start < 0) return null;
  const headEnd = body.indexOf('\r\n\r\n', start);
  if (headEnd < 0) return null;
  const head = body.subarray(start + boundary.length, headEnd).toString('utf8');
  const end = body.indexOf(Buffer.concat([Buffer.from('\r\n'), boundary]), headEnd + 4);
  if (end < 0) return null;
  const field = /name="([^"]*)"/i.exec(head)?.[1] ?? '';
  const name = /filename="([^"]*)"/i.exec(head)?.[1] ?? 'file';
  const mime = /content-type:\s*([^\r\n]+)/i.exec(head)?.[1]?.trim() ?? 'application/octet-stream';
  return { field, name, mime, bytes: body.subarray(headEnd + 4, end) };
}

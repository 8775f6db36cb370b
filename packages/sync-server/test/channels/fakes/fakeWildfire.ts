import crypto from 'node:crypto';
import type http from 'node:http';
import { HttpFake } from './httpFake.js';

/*
 * A fake WildfireChat (野火IM) im-server, written from its documentation and source, sharing no code
 * with the provider:
 * - Server API (wildfirechat/docs md/server/admin_api/README.md; im-server AdminAction.preAction):
 *   POST + JSON, headers nonce / timestamp (ms) / sign = sha1(nonce|secret|timestamp), also
 *   capitalised; missing → 239, older than 2 h → 243, wrong → 244, answered HTTP 200 with
 *   {code, msg, result:{code, msg}} (Action.doAction), or 401 when `authFailureStatus` says so (the docs).
 * - Robot API (md/server/robot_api/README.md): same signature with the robot's secret, header rid;
 *   unknown robot → 253, robot without secret → 248.
 * - Envelope {code, msg, result}; messages from ErrorCode.java.
 * - message ids are longs handed out above 2^53 so that a JSON.parse somewhere shows up.
 * - Callbacks (MessagesPublisher.forwardMessage, HttpUtils): the OutputMessageData JSON
 *   {messageId, sender, conv, payload, toUsers, timestamp} POSTed once, unsigned, as
 *   application/json; charset=utf-8, the answer ignored; to the robot's callback when a robot
 *   receives it (never to the sender itself) and to `forwardUrl` for every message, including those
 *   sent through the admin API unless `noForwardAdminMessage`.
 */

const ERR: Record<number, string> = {
  0: 'success',
  4: 'server error',
  9: 'not in group',
  239: 'api not signed or sign parameter not completion',
  243: 'sign expired',
  244: 'auth failure',
  248: 'no right to operate',
  249: 'timeout',
  250: 'over frequency',
  251: 'Invalid parameter',
  253: 'not exist',
};

/** JSON with bigint values written as bare integers (what Gson does with Java longs). */
export function jsonWithLongs(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `__long__${v.toString()}__` : v)).replace(/"__long__(-?\d+)__"/g, '$1');
}

export function fakeWildfireSign(nonce: string, secret: string, timestamp: string): string {
  return crypto.createHash('sha1').update(nonce + '|' + secret + '|' + timestamp).digest('hex');
}

export interface WfConv {
  type: number;
  target: string;
  line: number;
}

export interface WfSent {
  messageUid: bigint;
  via: 'admin' | 'robot';
  sender: string;
  conv: WfConv;
  payload: Record<string, unknown>;
  headers: { nonce: string; timestamp: string; sign: string; rid?: string };
  at: number;
}

export interface WfPost {
  url: string;
  body: string;
  status: number | null;
  kind: 'robot' | 'forward' | 'manual';
}

export class FakeWildfire extends HttpFake {
  adminSecret = `wf-admin-${crypto.randomBytes(8).toString('hex')}`;
  /** 200 as im-server's code does, or 401 as its docs say. */
  authFailureStatus: 200 | 401 = 200;
  readonly robots = new Map<string, { secret: string | null; callback: string | null; owner: string }>();
  readonly users = new Map<string, { name: string; displayName: string }>();
  /** `message.forward.url`. */
  forwardUrl: string | null = null;
  /** `message.no_forward_admin_message`. */
  noForwardAdminMessage = false;
  /** Answer the next sends with these codes instead of sending. */
  readonly failCodes: number[] = [];
  readonly sent: WfSent[] = [];
  readonly refused: { path: string; code: number; at: number }[] = [];
  readonly posts: WfPost[] = [];
  private nextUid = 9007199254740993n; // 2^53 + 1: not representable as a double
  private media = new Map<string, { bytes: Buffer; mime: string }>();

  uid(): bigint {
    return this.nextUid++;
  }

  addUser(userId: string, displayName: string): void {
    this.users.set(userId, { name: userId, displayName });
  }

  addRobot(robotId: string, opts: { secret?: string | null; callback?: string | null; owner?: string } = {}): string {
    const secret = opts.secret === undefined ? `robot-${crypto.randomBytes(8).toString('hex')}` : opts.secret;
    this.robots.set(robotId, { secret, callback: opts.callback ?? null, owner: opts.owner ?? 'admin' });
    this.users.set(robotId, { name: robotId, displayName: robotId });
    return secret ?? '';
  }

  /** Hosts bytes as the media server / OSS would; returns the remoteMediaUrl. */
  putMedia(name: string, bytes: Buffer, mime: string): string {
    const key = `${crypto.randomBytes(6).toString('hex')}/${encodeURIComponent(name)}`;
    this.media.set(key, { bytes, mime });
    return `${this.baseUrl}/fs/${key}`;
  }

  private answer(res: http.ServerResponse, code: number, result?: unknown, status = 200): void {
    const body: Record<string, unknown> = { code, msg: ERR[code] ?? 'error' };
    if (result !== undefined) body.result = result;
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(jsonWithLongs(body));
  }

  private refuse(res: http.ServerResponse, path: string, code: number): void {
    this.refused.push({ path, code, at: Date.now() });
    // Action.doAction: HTTP 200, {code, msg, result:{code, msg}}.
    const status = code === 244 || code === 239 || code === 243 ? this.authFailureStatus : 200;
    this.answer(res, code, { code, msg: ERR[code] }, status);
  }

  /** AdminAction.preAction / RobotAction: the error code, or 0 when the signature holds. */
  private checkSignature(req: http.IncomingMessage, secret: string): { code: number; headers?: WfSent['headers'] } {
    const h = (name: string) => {
      const v = req.headers[name];
      return typeof v === 'string' && v.length > 0 ? v : null;
    };
    // Node lowercases header names, so `Nonce` arrives as `nonce` too.
    const nonce = h('nonce');
    const timestamp = h('timestamp');
    const sign = h('sign');
    if (!nonce || !timestamp || !sign) return { code: 239 };
    if (!/^\d+$/.test(timestamp)) return { code: 239 };
    if (Date.now() - Number(timestamp) > 2 * 3600_000) return { code: 243 };
    if (fakeWildfireSign(nonce, secret, timestamp) !== sign) return { code: 244 };
    return { code: 0, headers: { nonce, timestamp, sign, ...(h('rid') ? { rid: h('rid')! } : {}) } };
  }

  protected async handle(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (req.method === 'GET' && path.startsWith('/fs/')) {
      const m = this.media.get(path.slice('/fs/'.length));
      if (!m) {
        res.writeHead(404).end('not found');
        return;
      }
      res.writeHead(200, { 'content-type': m.mime, 'content-length': String(m.bytes.length) }).end(m.bytes);
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(405).end();
      return;
    }
    if (path === '/admin/health') return this.answer(res, 0, { node: 1 });
    let via: 'admin' | 'robot';
    let sender: string | null = null;
    let check: ReturnType<FakeWildfire['checkSignature']>;
    if (path.startsWith('/admin/')) {
      via = 'admin';
      check = this.checkSignature(req, this.adminSecret);
    } else if (path.startsWith('/robot/')) {
      via = 'robot';
      const rid = typeof req.headers.rid === 'string' ? req.headers.rid : '';
      const robot = this.robots.get(rid);
      if (!robot) return this.refuse(res, path, 253);
      if (!robot.secret) return this.refuse(res, path, 248);
      check = this.checkSignature(req, robot.secret);
      sender = rid;
    } else {
      res.writeHead(404).end();
      return;
    }
    if (check.code !== 0) return this.refuse(res, path, check.code);
    let json: Record<string, any>;
    try {
      json = body.length ? (JSON.parse(body.toString('utf8')) as Record<string, any>) : {};
    } catch {
      return this.refuse(res, path, 251);
    }

    if (path === '/admin/user/get_info') {
      const u = typeof json.userId === 'string' ? this.users.get(json.userId) : undefined;
      if (!u) return this.answer(res, 253);
      return this.answer(res, 0, { userId: json.userId, name: u.name, displayName: u.displayName, gender: 0, type: 0, updateDt: Date.now() });
    }
    if (path === '/admin/message/send' || path === '/robot/message/send') {
      if (via === 'admin') sender = typeof json.sender === 'string' && json.sender ? json.sender : null;
      const conv = json.conv as WfConv | undefined;
      const payload = json.payload as Record<string, unknown> | undefined;
      if (!sender || !conv || typeof conv.target !== 'string' || !conv.target || typeof conv.type !== 'number' || !payload || typeof payload.type !== 'number') {
        return this.refuse(res, path, 251);
      }
      const forced = this.failCodes.shift();
      if (forced !== undefined) return this.refuse(res, path, forced);
      const messageUid = this.uid();
      const timestamp = Date.now();
      const line = typeof conv.line === 'number' ? conv.line : 0;
      this.sent.push({ messageUid, via, sender, conv: { type: conv.type, target: conv.target, line }, payload, headers: check.headers!, at: timestamp });
      // Published to the receivers (and forwarded) before the API call answers.
      await this.deliver({ messageId: messageUid, sender, conv: { type: conv.type, target: conv.target, line }, payload, timestamp }, via === 'admin');
      return this.answer(res, 0, { messageUid, timestamp });
    }
    return this.answer(res, 254);
  }

  /** The OutputMessageData body (Gson field order; nulls omitted; proto strings as ""). */
  static outputMessage(m: { messageId: bigint; sender: string; conv: WfConv; payload: Record<string, unknown>; timestamp: number; toUsers?: string[] }): string {
    const payload = {
      type: m.payload.type,
      searchableContent: m.payload.searchableContent ?? '',
      pushContent: m.payload.pushContent ?? '',
      pushData: m.payload.pushData ?? '',
      content: m.payload.content ?? '',
      ...(m.payload.base64edData ? { base64edData: m.payload.base64edData } : {}),
      mediaType: m.payload.mediaType ?? 0,
      remoteMediaUrl: m.payload.remoteMediaUrl ?? '',
      persistFlag: m.payload.persistFlag ?? 3,
      expireDuration: 0,
      mentionedType: 0,
      mentionedTarget: [],
      extra: '',
    };
    return jsonWithLongs({ messageId: m.messageId, sender: m.sender, conv: m.conv, payload, toUsers: m.toUsers ?? [], timestamp: m.timestamp });
  }

  private async post(url: string, body: string, kind: WfPost['kind']): Promise<WfPost> {
    const entry: WfPost = { url, body, status: null, kind };
    this.posts.push(entry);
    try {
      const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8' }, body, signal: AbortSignal.timeout(10_000) });
      entry.status = r.status;
      await r.arrayBuffer();
    } catch {
      entry.status = null; // the real server logs and moves on
    }
    return entry;
  }

  /** Hands a message to robots that receive it (their callbacks) and to the forward URL, once each. */
  private async deliver(m: { messageId: bigint; sender: string; conv: WfConv; payload: Record<string, unknown>; timestamp: number }, fromAdmin: boolean): Promise<WfPost[]> {
    const body = FakeWildfire.outputMessage(m);
    const out: WfPost[] = [];
    if (m.conv.type === 0) {
      const robot = this.robots.get(m.conv.target);
      // publish2Receivers: never back to the sender.
      if (robot?.callback && m.conv.target !== m.sender) out.push(await this.post(robot.callback, body, 'robot'));
    } else if (m.conv.type === 1) {
      for (const [id, robot] of this.robots) if (robot.callback && id !== m.sender && this.groupMembers.get(m.conv.target)?.has(id)) out.push(await this.post(robot.callback, body, 'robot'));
    }
    if (this.forwardUrl && !(fromAdmin && this.noForwardAdminMessage)) out.push(await this.post(this.forwardUrl, body, 'forward'));
    return out;
  }

  readonly groupMembers = new Map<string, Set<string>>();

  /** A client (user) sends a message: the server stores it and posts it where it goes. */
  async userSends(sender: string, conv: Partial<WfConv> & { target: string }, payload: Record<string, unknown>): Promise<{ messageId: bigint; body: string; posts: WfPost[] }> {
    const messageId = this.uid();
    const m = { messageId, sender, conv: { type: conv.type ?? 0, target: conv.target, line: conv.line ?? 0 }, payload, timestamp: Date.now() };
    const posts = await this.deliver(m, false);
    return { messageId, body: FakeWildfire.outputMessage(m), posts };
  }

  /** Posts a body again (what no real server does: it never retries), e.g. to test de-duplication. */
  repost(url: string, body: string): Promise<WfPost> {
    return this.post(url, body, 'manual');
  }
}

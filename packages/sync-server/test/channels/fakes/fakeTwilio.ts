import crypto from 'node:crypto';
import type http from 'node:http';
import { HttpFake } from './httpFake.js';

/** The fake's own X-Twilio-Signature (written from Twilio's documentation, not shared with the server's code). */
export function fakeTwilioSign(authToken: string, url: string, params: [string, string][]): string {
  const byKey = new Map<string, string[]>();
  for (const [k, v] of params) byKey.set(k, [...(byKey.get(k) ?? []), v]);
  let s = url;
  for (const k of [...byKey.keys()].sort()) for (const v of [...new Set(byKey.get(k))].sort()) s += k + v;
  return crypto.createHmac('sha1', authToken).update(s, 'utf8').digest('base64');
}

export interface TwilioSent {
  sid: string;
  to: string;
  from: string | null;
  body: string;
  statusCallback: string | null;
  at: number;
}

/**
 * A Twilio Programmable Messaging double on loopback: `POST /2010-04-01/Accounts/{sid}/Messages.json`
 * with basic auth (AccountSid:AuthToken) and a form body, answering 201 with the message resource;
 * it signs the webhooks it sends (inbound messages, status callbacks) with X-Twilio-Signature and
 * adds I-Twilio-Idempotency-Token.
 */
export class FakeTwilio extends HttpFake {
  readonly accountSid = `AC${crypto.randomBytes(16).toString('hex')}`;
  readonly authToken = crypto.randomBytes(16).toString('hex');
  readonly sent: TwilioSent[] = [];
  /** Create requests refused for bad credentials. */
  authFailures = 0;
  /** Accept (and so "send") this many messages without ever answering: the answer is lost. */
  acceptWithoutAnswer = 0;
  /** How many times the message list was read (reconciliation). */
  listed = 0;
  private unanswered: http.ServerResponse[] = [];

  protected handle(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse): void {
    const json = (status: number, o: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(o));
    const [pathname, query = ''] = (req.url ?? '').split('?');
    const m = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/.exec(pathname ?? '');
    if ((req.method !== 'POST' && req.method !== 'GET') || !m) return json(404, { code: 20404, message: 'The requested resource was not found', status: 404 });
    const expected = `Basic ${Buffer.from(`${this.accountSid}:${this.authToken}`).toString('base64')}`;
    if (m[1] !== this.accountSid || req.headers.authorization !== expected) {
      this.authFailures++;
      return json(401, { code: 20003, message: 'Authenticate', more_info: 'https://www.twilio.com/docs/errors/20003', status: 401 });
    }
    if (req.method === 'GET') {
      // Read multiple Message resources, filtered by To, From and DateSent> (a date), newest first.
      const q = new URLSearchParams(query);
      this.listed++;
      const after = q.get('DateSent>');
      const rows = this.sent
        .filter((x) => (!q.get('To') || x.to === q.get('To')) && (!q.get('From') || x.from === q.get('From')) && (!after || x.at >= Date.parse(after)))
        .sort((a, b) => b.at - a.at)
        .slice(0, Number(q.get('PageSize') ?? 50))
        .map((x) => ({ sid: x.sid, account_sid: this.accountSid, to: x.to, from: x.from, body: x.body, direction: 'outbound-api', status: 'sent', date_created: new Date(x.at).toUTCString(), date_sent: new Date(x.at).toUTCString() }));
      return json(200, { messages: rows, page: 0, page_size: rows.length, first_page_uri: pathname, next_page_uri: null, previous_page_uri: null, uri: req.url });
    }
    if (!String(req.headers['content-type']).startsWith('application/x-www-form-urlencoded')) return json(400, { code: 20001, message: 'form body expected', status: 400 });
    const p = new URLSearchParams(body.toString('utf8'));
    const to = p.get('To');
    const text = p.get('Body');
    if (!to) return json(400, { code: 21604, message: "A 'To' phone number is required.", status: 400 });
    if (!/^\+?[1-9]\d{4,14}$/.test(to)) return json(400, { code: 21211, message: `The 'To' number ${to} is not a valid phone number.`, status: 400 });
    if (!p.get('From') && !p.get('MessagingServiceSid')) return json(400, { code: 21603, message: "A 'From' phone number is required.", status: 400 });
    if (!text) return json(400, { code: 21602, message: 'Message body is required.', status: 400 });
    const sid = `SM${crypto.randomBytes(16).toString('hex')}`;
    this.sent.push({ sid, to, from: p.get('From'), body: text, statusCallback: p.get('StatusCallback'), at: Date.now() });
    if (this.acceptWithoutAnswer > 0) {
      this.acceptWithoutAnswer--;
      this.unanswered.push(res);
      return;
    }
    const now = new Date().toUTCString();
    return json(201, {
      sid, account_sid: this.accountSid, to, from: p.get('From'), body: text, status: 'queued', direction: 'outbound-api', num_segments: '1',
      num_media: '0', price: null, price_unit: 'USD', error_code: null, error_message: null, date_created: now, date_updated: now, date_sent: null, api_version: '2010-04-01',
      uri: `/2010-04-01/Accounts/${this.accountSid}/Messages/${sid}.json`,
    });
  }

  /** POSTs a signed form to `url` as Twilio does; `signWith` overrides the token (a forged request). */
  async webhook(url: string, params: [string, string][], opts: { signWith?: string; idempotencyToken?: string; signature?: string } = {}): Promise<Response> {
    const sig = opts.signature ?? fakeTwilioSign(opts.signWith ?? this.authToken, url, params);
    return fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
        'x-twilio-signature': sig,
        'i-twilio-idempotency-token': opts.idempotencyToken ?? crypto.randomUUID(),
        'user-agent': 'TwilioProxy/1.1',
      },
      body: new URLSearchParams(params).toString(),
    });
  }

  /** An inbound SMS to the inbox's webhook. */
  inbound(url: string, m: { from: string; to: string; body: string; sid?: string }, opts: { signWith?: string; idempotencyToken?: string } = {}) {
    const sid = m.sid ?? `SM${crypto.randomBytes(16).toString('hex')}`;
    const params: [string, string][] = [
      ['ToCountry', 'US'], ['SmsMessageSid', sid], ['NumMedia', '0'], ['SmsSid', sid], ['SmsStatus', 'received'], ['Body', m.body], ['To', m.to],
      ['NumSegments', '1'], ['MessageSid', sid], ['AccountSid', this.accountSid], ['From', m.from], ['ApiVersion', '2010-04-01'],
    ];
    return { sid, send: () => this.webhook(url, params, opts), params };
  }

  /** The status callback of a sent message (MessageStatus delivered, undelivered, failed…). */
  status(sid: string, status: string, opts: { errorCode?: string; idempotencyToken?: string } = {}): Promise<Response> {
    const m = this.sent.find((s) => s.sid === sid);
    if (!m?.statusCallback) throw new Error(`no status callback for ${sid}`);
    const params: [string, string][] = [
      ['SmsSid', sid], ['SmsStatus', status], ['MessageStatus', status], ['To', m.to], ['MessageSid', sid], ['AccountSid', this.accountSid],
      ['From', m.from ?? ''], ['ApiVersion', '2010-04-01'], ...(opts.errorCode ? ([['ErrorCode', opts.errorCode]] as [string, string][]) : []),
    ];
    return this.webhook(m.statusCallback, params, opts.idempotencyToken ? { idempotencyToken: opts.idempotencyToken } : {});
  }
}

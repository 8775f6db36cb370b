import crypto from 'node:crypto';

/**
 * A small SIP (RFC 3261) message codec: enough for a UDP user agent that registers, answers
 * INVITEs, takes INFO and BYE, and hangs up. Header names are compared case-insensitively and the
 * compact forms are understood.
 */

export interface SipRequest {
  kind: 'request';
  method: string;
  uri: string;
  headers: [string, string][];
  body: string;
}
export interface SipResponse {
  kind: 'response';
  status: number;
  reason: string;
  headers: [string, string][];
  body: string;
}
export type SipMessage = SipRequest | SipResponse;

export class SipParseError extends Error {}

const COMPACT: Record<string, string> = { v: 'via', f: 'from', t: 'to', i: 'call-id', m: 'contact', l: 'content-length', c: 'content-type', k: 'supported', s: 'subject' };
const canon = (name: string) => {
  const n = name.trim().toLowerCase();
  return COMPACT[n] ?? n;
};

export function parseSip(buf: Buffer): SipMessage {
  const text = buf.toString('utf8');
  const split = text.indexOf('\r\n\r\n');
  const head = split === -1 ? text : text.slice(0, split);
  let body = split === -1 ? '' : text.slice(split + 4);
  const lines = head.split(/\r\n/);
  // unfold continuation lines
  const folded: string[] = [];
  for (const l of lines) {
    if (/^[ \t]/.test(l) && folded.length) folded[folded.length - 1] += ` ${l.trim()}`;
    else folded.push(l);
  }
  const start = folded.shift() ?? '';
  const headers: [string, string][] = [];
  for (const l of folded) {
    const i = l.indexOf(':');
    if (i <= 0) continue;
    headers.push([canon(l.slice(0, i)), l.slice(i + 1).trim()]);
  }
  const cl = headers.find(([n]) => n === 'content-length');
  if (cl) body = Buffer.from(body, 'utf8').subarray(0, Number(cl[1]) || 0).toString('utf8');
  const resp = /^SIP\/2\.0\s+(\d{3})\s*(.*)$/.exec(start);
  if (resp) return { kind: 'response', status: Number(resp[1]), reason: resp[2] ?? '', headers, body };
  const req = /^([A-Z]+)\s+(\S+)\s+SIP\/2\.0$/.exec(start);
  if (!req) throw new SipParseError(`not a SIP start line: ${start.slice(0, 80)}`);
  return { kind: 'request', method: req[1]!, uri: req[2]!, headers, body };
}

const PRETTY: Record<string, string> = { via: 'Via', from: 'From', to: 'To', 'call-id': 'Call-ID', cseq: 'CSeq', contact: 'Contact', 'content-type': 'Content-Type', 'content-length': 'Content-Length', 'max-forwards': 'Max-Forwards', 'record-route': 'Record-Route', route: 'Route', expires: 'Expires', 'user-agent': 'User-Agent', allow: 'Allow', supported: 'Supported' };
const pretty = (n: string) => PRETTY[n] ?? n.replace(/(^|-)([a-z])/g, (_, d: string, c: string) => d + c.toUpperCase());

export function serializeSip(m: SipMessage): Buffer {
  const start = m.kind === 'request' ? `${m.method} ${m.uri} SIP/2.0` : `SIP/2.0 ${m.status} ${m.reason}`;
  const lines = [start, ...m.headers.filter(([n]) => n !== 'content-length').map(([n, v]) => `${pretty(n)}: ${v}`), `Content-Length: ${Buffer.byteLength(m.body, 'utf8')}`];
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n${m.body}`, 'utf8');
}

export function header(m: SipMessage, name: string): string | null {
  const n = canon(name);
  return m.headers.find(([k]) => k === n)?.[1] ?? null;
}

/** Every value of a header, comma-separated values split (outside <> and quotes). */
export function headerAll(m: SipMessage, name: string): string[] {
  const n = canon(name);
  return m.headers.filter(([k]) => k === n).flatMap(([, v]) => splitCommas(v));
}

function splitCommas(v: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let cur = '';
  for (const ch of v) {
    if (ch === '"') quoted = !quoted;
    if (!quoted && ch === '<') depth++;
    if (!quoted && ch === '>') depth--;
    if (ch === ',' && depth === 0 && !quoted) {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

/** The URI inside a name-addr (`"x" <sip:a@b>;tag=1` → `sip:a@b`) or an addr-spec. */
export function uriOf(nameAddr: string): string {
  const m = /<([^>]*)>/.exec(nameAddr);
  return (m ? m[1]! : nameAddr.split(';')[0]!).trim();
}

/** A header parameter outside the URI (`;tag=`). */
export function paramOf(nameAddr: string, param: string): string | null {
  const rest = nameAddr.includes('>') ? nameAddr.slice(nameAddr.lastIndexOf('>') + 1) : nameAddr;
  const m = new RegExp(`;\\s*${param}=([^;,\\s]+)`, 'i').exec(rest);
  return m ? m[1]! : null;
}

/** user, host and port of a sip: URI. */
export function parseSipUri(uri: string): { user: string | null; host: string; port: number; params: string } {
  const m = /^sips?:(?:([^@]+)@)?([^;:?>]+)(?::(\d+))?([^?]*)/i.exec(uri.trim());
  if (!m) throw new SipParseError(`not a SIP URI: ${uri}`);
  return { user: m[1] ? decodeURIComponent(m[1]) : null, host: m[2]!, port: m[3] ? Number(m[3]) : 5060, params: m[4] ?? '' };
}

export const newTag = () => crypto.randomBytes(6).toString('hex');
export const newBranch = () => `z9hG4bK${crypto.randomBytes(8).toString('hex')}`;
export const newCallId = (host: string) => `${crypto.randomBytes(10).toString('hex')}@${host}`;

/** A response to a request: Via, From, To (with our tag when given), Call-ID and CSeq copied. */
export function responseTo(req: SipRequest, status: number, reason: string, o: { toTag?: string; headers?: [string, string][]; body?: string } = {}): SipResponse {
  const headers: [string, string][] = [];
  for (const [n, v] of req.headers) {
    if (n === 'via' || n === 'from' || n === 'call-id' || n === 'cseq' || (n === 'record-route' && status >= 180 && status < 300)) headers.push([n, v]);
    else if (n === 'to') headers.push([n, o.toTag && !paramOf(v, 'tag') ? `${v};tag=${o.toTag}` : v]);
  }
  return { kind: 'response', status, reason, headers: [...headers, ['user-agent', 'Goutong IVR'], ...(o.headers ?? [])], body: o.body ?? '' };
}

// ----- SDP (RFC 4566) offer/answer for one audio stream -----

export interface SdpAudio {
  address: string;
  port: number;
  /** payload type → encoding name (upper case) */
  rtpmap: Map<number, string>;
  payloads: number[];
}

const STATIC_PT: Record<number, string> = { 0: 'PCMU/8000', 8: 'PCMA/8000' };

export function parseSdp(body: string): SdpAudio | null {
  let address: string | null = null;
  let audio: SdpAudio | null = null;
  for (const raw of body.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.startsWith('c=')) {
      const a = line.split(/\s+/)[2] ?? null;
      if (audio) audio.address = a ?? audio.address;
      else address = a;
    } else if (line.startsWith('m=')) {
      if (audio) break; // the first audio stream only
      const [media, port, , ...fmts] = line.slice(2).split(/\s+/);
      if (media !== 'audio') continue;
      const payloads = fmts.map(Number).filter((n) => Number.isInteger(n));
      audio = { address: address ?? '', port: Number(port), rtpmap: new Map(payloads.filter((p) => STATIC_PT[p]).map((p) => [p, STATIC_PT[p]!])), payloads };
    } else if (audio && line.startsWith('a=rtpmap:')) {
      const m = /^a=rtpmap:(\d+)\s+(\S+)/.exec(line);
      if (m) audio.rtpmap.set(Number(m[1]), m[2]!.toUpperCase());
    }
  }
  return audio && audio.address && audio.port > 0 ? audio : null;
}

export function sdpAnswer(o: { address: string; port: number; codecPt: number; codec: 'PCMU' | 'PCMA'; dtmfPt: number | null; sessionId: string }): string {
  const fmts = [o.codecPt, ...(o.dtmfPt !== null ? [o.dtmfPt] : [])].join(' ');
  return [
    'v=0',
    `o=goutong ${o.sessionId} ${o.sessionId} IN IP4 ${o.address}`,
    's=Goutong IVR',
    `c=IN IP4 ${o.address}`,
    't=0 0',
    `m=audio ${o.port} RTP/AVP ${fmts}`,
    `a=rtpmap:${o.codecPt} ${o.codec}/8000`,
    ...(o.dtmfPt !== null ? [`a=rtpmap:${o.dtmfPt} telephone-event/8000`, `a=fmtp:${o.dtmfPt} 0-15`] : []),
    'a=ptime:20',
    'a=sendrecv',
    '',
  ].join('\r\n');
}

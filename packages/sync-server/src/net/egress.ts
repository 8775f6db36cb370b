import dnsCb from 'node:dns';
import dns from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import net, { type LookupFunction } from 'node:net';
import { Readable } from 'node:stream';

/**
 * Egress guard for server-initiated requests (provider APIs, outbound webhooks): a URL configured by
 * a tenant admin must not reach the server's own network (loopback, private, link-local, CGNAT,
 * multicast, cloud metadata), unless the operator allows the host or CIDR with GOUTONG_EGRESS_ALLOW.
 * Every address a name resolves to is checked, and every redirect is checked again.
 */

/** Blocked ranges (IPv4 and IPv6; v4-mapped IPv6 addresses are checked as IPv4). */
const BLOCKED: readonly [string, number, 'ipv4' | 'ipv6'][] = [
  ['0.0.0.0', 8, 'ipv4'], // "this network"
  ['10.0.0.0', 8, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'], // CGNAT
  ['127.0.0.0', 8, 'ipv4'],
  ['169.254.0.0', 16, 'ipv4'], // link-local, incl. 169.254.169.254 metadata
  ['172.16.0.0', 12, 'ipv4'],
  ['192.0.0.0', 24, 'ipv4'], // IETF protocol assignments (incl. 192.0.0.192 Oracle metadata)
  ['192.0.2.0', 24, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['198.18.0.0', 15, 'ipv4'], // benchmarking
  ['198.51.100.0', 24, 'ipv4'],
  ['203.0.113.0', 24, 'ipv4'],
  ['224.0.0.0', 4, 'ipv4'], // multicast
  ['240.0.0.0', 4, 'ipv4'], // reserved, broadcast
  ['::', 128, 'ipv6'], // unspecified
  ['::1', 128, 'ipv6'],
  ['64:ff9b::', 96, 'ipv6'], // NAT64 (embeds IPv4)
  ['64:ff9b:1::', 48, 'ipv6'],
  ['100::', 64, 'ipv6'], // discard
  ['2001:db8::', 32, 'ipv6'], // documentation
  ['2002::', 16, 'ipv6'], // 6to4 (embeds IPv4)
  ['fc00::', 7, 'ipv6'], // unique local (incl. AWS fd00:ec2::254 metadata)
  ['fe80::', 10, 'ipv6'], // link-local
  ['fec0::', 10, 'ipv6'], // site-local (deprecated)
  ['ff00::', 8, 'ipv6'], // multicast
];

const blockList = (() => {
  const b = new net.BlockList();
  for (const [addr, prefix, type] of BLOCKED) b.addSubnet(addr, prefix, type);
  return b;
})();

/** Refused by the egress guard: the message names the host and why (safe to show to an admin). */
export class EgressError extends Error {
  override readonly name = 'EgressError';
}

export interface EgressPolicy {
  /** Host names (exact, case-insensitive) the operator allows even on internal addresses. */
  hosts: Set<string>;
  allowed: net.BlockList;
}

/** Parses GOUTONG_EGRESS_ALLOW entries: CIDRs (`10.0.0.0/8`, `fd00::/8`), single addresses and host names. */
export function egressPolicy(entries: readonly string[]): EgressPolicy {
  const hosts = new Set<string>();
  const allowed = new net.BlockList();
  for (const raw of entries) {
    const e = raw.trim().toLowerCase().replace(/^\[|\]$/g, '');
    if (!e) continue;
    const slash = e.indexOf('/');
    const addr = slash >= 0 ? e.slice(0, slash) : e;
    const type = net.isIP(addr);
    if (type === 0) {
      if (slash >= 0) throw new Error(`GOUTONG_EGRESS_ALLOW: "${raw}" is not a CIDR`);
      hosts.add(e);
      continue;
    }
    const family = type === 4 ? 'ipv4' : 'ipv6';
    const prefix = slash >= 0 ? Number(e.slice(slash + 1)) : type === 4 ? 32 : 128;
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > (type === 4 ? 32 : 128)) throw new Error(`GOUTONG_EGRESS_ALLOW: bad prefix in "${raw}"`);
    allowed.addSubnet(addr, prefix, family);
  }
  return { hosts, allowed };
}

let current: EgressPolicy = egressPolicy([]);

/** Sets the process-wide policy (the server does it at start from GOUTONG_EGRESS_ALLOW). */
export function setEgressAllow(entries: readonly string[]): void {
  current = egressPolicy(entries);
}

/** The IPv4 address inside a v4-mapped/compatible IPv6 address (`::ffff:10.0.0.1`, `::ffff:a00:1`), else null. */
function embeddedV4(v6: string): string | null {
  const m = /^(?:0{0,4}:){0,5}(?::|0{0,4}:)?ffff:(.+)$/i.exec(v6) ?? /^::(\d+\.\d+\.\d+\.\d+)$/.exec(v6);
  if (!m?.[1]) return null;
  const tail = m[1];
  if (net.isIPv4(tail)) return tail;
  const hex = /^([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(tail);
  if (!hex) return null;
  const hi = parseInt(hex[1]!, 16);
  const lo = parseInt(hex[2]!, 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

/** Why an address is internal, or null when it is public. */
export function internalAddress(address: string, policy: EgressPolicy = current): string | null {
  const a = address.replace(/^\[|\]$/g, '').split('%')[0]!;
  const type = net.isIP(a);
  if (type === 0) return 'not an IP address';
  const v4 = type === 6 ? embeddedV4(a) : a;
  const [addr, family] = v4 ? [v4, 'ipv4' as const] : [a, 'ipv6' as const];
  if (policy.allowed.check(addr, family) || (v4 && type === 6 && policy.allowed.check(a, 'ipv6'))) return null;
  return blockList.check(addr, family) ? `${address} is a loopback, private, link-local or metadata address` : null;
}

export type Resolver = (host: string) => Promise<{ address: string; family: number }[]>;
const systemResolver: Resolver = (host) => dns.lookup(host, { all: true, verbatim: true });

/**
 * Checks a URL before the server connects to it: http(s) only, no credentials in it, and every
 * address its host resolves to must be public (or allowed by the operator). Throws EgressError.
 */
export async function checkEgressUrl(url: string | URL, opts: { policy?: EgressPolicy; resolve?: Resolver } = {}): Promise<URL> {
  const policy = opts.policy ?? current;
  let u: URL;
  try {
    u = new URL(String(url));
  } catch {
    throw new EgressError(`not a valid URL: ${String(url).slice(0, 100)}`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new EgressError(`${u.protocol} URLs are not allowed (http or https only)`);
  if (u.username || u.password) throw new EgressError('URLs with credentials are not allowed; use the secrets fields');
  const host = u.hostname.toLowerCase().replace(/^\[|\]$/g, '');
  if (policy.hosts.has(host)) return u;
  let addresses: { address: string }[];
  if (net.isIP(host)) addresses = [{ address: host }];
  else {
    try {
      addresses = await (opts.resolve ?? systemResolver)(host);
    } catch (e) {
      throw new EgressError(`cannot resolve ${host}: ${(e as NodeJS.ErrnoException).code ?? 'lookup failed'}`);
    }
    if (addresses.length === 0) throw new EgressError(`cannot resolve ${host}`);
  }
  for (const { address } of addresses) {
    const why = internalAddress(address, policy);
    if (why) throw new EgressError(`${host} is not allowed: ${why} (an operator may allow it with GOUTONG_EGRESS_ALLOW)`);
  }
  return u;
}

export const MAX_REDIRECTS = 5;

/** The name lookup of egress connections: the addresses it hands to connect() are the ones it checked. */
function guardedLookup(policy: EgressPolicy): LookupFunction {
  return ((hostname: string, options: dnsCb.LookupOptions, callback: (err: Error | null, address: string | dnsCb.LookupAddress[], family?: number) => void) => {
    dnsCb.lookup(hostname, { ...options, all: true, verbatim: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const list = addresses as dnsCb.LookupAddress[];
      if (!policy.hosts.has(hostname.toLowerCase())) {
        for (const a of list) {
          const why = internalAddress(a.address, policy);
          if (why) return callback(new EgressError(`${hostname} is not allowed: ${why} (an operator may allow it with GOUTONG_EGRESS_ALLOW)`), '', 0);
        }
      }
      if (list.length === 0) return callback(Object.assign(new Error(`cannot resolve ${hostname}`), { code: 'ENOTFOUND' }), '', 0);
      if (options.all) return callback(null, list);
      return callback(null, list[0]!.address, list[0]!.family);
    });
  }) as unknown as LookupFunction;
}

const abortError = (signal: AbortSignal | null | undefined): unknown => signal?.reason ?? new DOMException('This operation was aborted', 'AbortError');

/** One request over node:http(s) with the guarded lookup, answered as a fetch Response (body streamed). */
function send(u: URL, method: string, headers: Headers, body: Buffer | null, signal: AbortSignal | null | undefined, policy: EgressPolicy): Promise<Response> {
  return new Promise<Response>((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    const h: Record<string, string> = {};
    headers.forEach((v, k) => (h[k] = v));
    if (body && h['content-length'] === undefined) h['content-length'] = String(body.length);
    const mod = u.protocol === 'https:' ? https : http;
    const req = mod.request(u, { method, headers: h, lookup: guardedLookup(policy) }, (res) => {
      const out = new Headers();
      for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) out.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
      const status = res.statusCode ?? 502;
      const empty = method === 'HEAD' || status === 204 || status === 205 || status === 304;
      if (empty) res.resume();
      const stream = empty ? null : (Readable.toWeb(res) as unknown as ReadableStream<Uint8Array>);
      try {
        resolve(new Response(stream, { status, statusText: res.statusMessage ?? '', headers: out }));
      } catch {
        resolve(new Response(stream, { status, headers: out }));
      }
    });
    const onAbort = () => req.destroy(abortError(signal) as Error);
    signal?.addEventListener('abort', onAbort, { once: true });
    req.on('close', () => signal?.removeEventListener('abort', onAbort));
    req.on('error', (e: Error) => {
      // As fetch does: network failures are TypeError('fetch failed') with the cause; refusals and aborts as they are.
      reject(e instanceof EgressError || e.name === 'AbortError' || e === signal?.reason ? e : new TypeError('fetch failed', { cause: e }));
    });
    req.end(body ?? undefined);
  });
}

/**
 * fetch for URLs from configuration: checks the URL before connecting, connects only to addresses
 * its own lookup checked (no second, unchecked DNS answer), and follows at most 5 redirects by hand,
 * checking each. A refused URL rejects with EgressError.
 */
export async function egressFetch(input: string | URL | Request, init: RequestInit = {}, test: { resolve?: Resolver } = {}): Promise<Response> {
  const policy = current;
  let url = input instanceof Request ? input.url : String(input);
  let method = (init.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
  let headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
  let body: Buffer | null = null;
  if (init.body !== undefined && init.body !== null) {
    // Request encodes every BodyInit (string, URLSearchParams, FormData, Blob, bytes) and its content type.
    const r = new Request('http://body.invalid/', { method: 'POST', body: init.body, headers, duplex: 'half' } as RequestInit);
    body = Buffer.from(await r.arrayBuffer());
    const ct = r.headers.get('content-type');
    if (ct && !headers.has('content-type')) headers.set('content-type', ct);
  }
  for (let hop = 0; ; hop++) {
    // `test.resolve` stands in for the first DNS answer (tests simulate rebinding); connect() always uses guardedLookup.
    const u = await checkEgressUrl(url, { policy, ...(test.resolve ? { resolve: test.resolve } : {}) });
    const res = await send(u, method, headers, body, init.signal, policy);
    if (res.status < 300 || res.status >= 400 || res.status === 304) return res;
    const location = res.headers.get('location');
    if (!location) return res;
    await res.body?.cancel().catch(() => undefined);
    if (hop >= MAX_REDIRECTS) throw new EgressError(`more than ${MAX_REDIRECTS} redirects from ${u.host}`);
    const next = new URL(location, url);
    // 303 (and 301/302 after POST, as browsers do) turn into a GET without a body.
    if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
      headers = new Headers(headers);
      headers.delete('content-type');
      headers.delete('content-length');
      method = 'GET';
      body = null;
    }
    // Credentials never follow a redirect to another origin.
    if (next.origin !== u.origin) {
      headers = new Headers(headers);
      headers.delete('authorization');
      headers.delete('cookie');
    }
    url = next.toString();
  }
}

/**
 * What a third party's error body may contribute to a message's status reason: at most ~200
 * printable characters, without HTML, and with anything that looks like a secret masked.
 */
export function providerErrorExcerpt(body: unknown, max = 200): string {
  let text = typeof body === 'string' ? body : body === null || body === undefined ? '' : (() => {
    try {
      return JSON.stringify(body);
    } catch {
      return String(body);
    }
  })();
  text = text.slice(0, 20_000);
  text = text
    .replace(/<(script|style)[^>]*>[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&[a-z]+;|&#\d+;/gi, ' ');
  text = text
    // key=value / "key": "value" pairs of secret-looking keys
    .replace(/((?:api[_-]?key|access[_-]?key|secret|token|password|passwd|pwd|auth|authorization|signature|sig|credential)[a-z_-]*["']?\s*[:=]\s*["']?)[^"'&\s,;}]+/gi, '$1***')
    .replace(/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, '$1 ***')
    // URLs with user:password@
    .replace(/(\w+:\/\/)[^/\s:@]+:[^/\s@]+@/g, '$1***@')
    // long opaque strings (keys, tokens, JWTs)
    .replace(/\b[A-Za-z0-9_\-+/=.]{32,}\b/g, '***');
  // eslint-disable-next-line no-control-regex -- stripping control characters is the point
  text = text.replace(/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2066-\u2069]/g, ' ').replace(/\s+/g, ' ').trim();
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Config keys naming this server's own public address (where providers call us), or the sites allowed to call it (website chat origins): not egress. */
export const INBOUND_URL_KEYS: ReadonlySet<string> = new Set(['webhookBaseUrl', 'publicBaseUrl', 'publicUrl', 'allowedOrigins']);

/**
 * Checks every URL in an inbox configuration (any string value, at any depth, that starts with
 * http:// or https://, except INBOUND_URL_KEYS). Returns the problems as `path: reason`, empty when
 * all may be reached.
 */
export async function configUrlProblems(config: unknown, opts: { policy?: EgressPolicy; resolve?: Resolver } = {}): Promise<string[]> {
  const found: [string, string][] = [];
  const walk = (v: unknown, at: string, depth: number) => {
    if (depth > 5) return;
    if (typeof v === 'string') {
      if (/^\s*https?:\/\//i.test(v)) found.push([at, v.trim()]);
    } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${at}[${i}]`, depth + 1));
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) if (!INBOUND_URL_KEYS.has(k)) walk(x, at ? `${at}.${k}` : k, depth + 1);
    }
  };
  walk(config, '', 0);
  const problems: string[] = [];
  for (const [at, url] of found) {
    try {
      await checkEgressUrl(url, opts);
    } catch (e) {
      if (!(e instanceof EgressError)) throw e;
      problems.push(`config.${at}: ${e.message}`);
    }
  }
  return problems;
}

import { describe, expect, it } from 'vitest';
import { cidrMatcher, parseCidr } from '../../src/channels/im/cidr.js';
import { WildfireConfig, WildfireSecrets, replyTarget } from '../../src/channels/im/wildfire.js';
import { Int64Id, parseWildfireJson, wildfireFailure, wildfireHeaders, wildfireSign } from '../../src/channels/im/wildfireApi.js';
import { mapPayload, mediaMime, WfOutputMessage } from '../../src/channels/im/wildfirePayload.js';
import { buildOpenApi } from '../../src/http/openapi.js';

describe('WildfireChat signing', () => {
  it('matches the worked example of the Server API docs', () => {
    // md/server/admin_api/README.md: nonce 76616, secret 123456, timestamp 1558350862502.
    expect(wildfireSign('76616', '123456', '1558350862502')).toBe('b98f9b0717f59febccf1440067a7f50d9b31bdde');
  });
  it('signs each request with a fresh nonce and the time in milliseconds; the robot API adds rid', () => {
    const h = wildfireHeaders('s3cret', { now: 1_700_000_000_123, rid: 'robot1' });
    expect(h.timestamp).toBe('1700000000123');
    expect(h.sign).toBe(wildfireSign(h.nonce!, 's3cret', h.timestamp!));
    expect(h.rid).toBe('robot1');
    expect(wildfireHeaders('s').nonce).not.toBe(wildfireHeaders('s').nonce);
  });
});

describe('64-bit ids', () => {
  it('parses message ids above 2^53 exactly and keeps them as decimal strings', () => {
    const body = '{"messageId":9007199254740993,"sender":"u","conv":{"type":0,"target":"r","line":0},"payload":{"type":1,"searchableContent":"hi"},"toUsers":[],"timestamp":1721013418878}';
    expect((JSON.parse(body) as { messageId: number }).messageId).toBe(9007199254740992); // what JSON.parse does
    const ev = WfOutputMessage.parse(parseWildfireJson(body));
    expect(ev.messageId).toBe('9007199254740993');
    expect(ev.timestamp).toBe(1721013418878);
    expect(Int64Id.parse(432595101554835586n)).toBe('432595101554835586');
    expect(Int64Id.parse('9223372036854775807')).toBe('9223372036854775807');
    expect(Int64Id.safeParse('9223372036854775808').success).toBe(false);
    expect(Int64Id.safeParse(-1).success).toBe(false);
  });
});

describe('source addresses', () => {
  it('matches IPv4, IPv6 and IPv4-mapped addresses against CIDR blocks', () => {
    const allowed = cidrMatcher(['10.0.0.0/8', '192.0.2.7', 'fd00::/8']);
    expect(allowed('10.1.2.3')).toBe(true);
    expect(allowed('::ffff:10.1.2.3')).toBe(true);
    expect(allowed('192.0.2.7')).toBe(true);
    expect(allowed('192.0.2.8')).toBe(false);
    expect(allowed('127.0.0.1')).toBe(false);
    expect(allowed('fd12::1')).toBe(true);
    expect(allowed('::1')).toBe(false);
    expect(allowed(undefined)).toBe(false);
    expect(allowed('garbage')).toBe(false);
    expect(parseCidr('10.0.0.0/33')).toBeNull();
    expect(parseCidr('10.0.0.0/8/1')).toBeNull();
    expect(parseCidr('::/0')).toEqual({ address: '::', prefix: 0, family: 'ipv6' });
  });
});

describe('configuration', () => {
  it('needs the account replies come from, and robotId + robotApiBaseUrl for the robot API', () => {
    expect(WildfireConfig.safeParse({ serverApiBaseUrl: 'http://im:18080' }).success).toBe(false);
    expect(WildfireConfig.parse({ serverApiBaseUrl: 'http://im:18080/', robotId: 'r' })).toMatchObject({ serverApiBaseUrl: 'http://im:18080', sendVia: 'admin', acceptGroupMessages: false });
    expect(WildfireConfig.safeParse({ serverApiBaseUrl: 'http://im:18080', robotId: 'r', sendVia: 'robot' }).success).toBe(false);
    expect(WildfireConfig.safeParse({ serverApiBaseUrl: 'ftp://im', robotId: 'r' }).success).toBe(false);
    expect(WildfireConfig.safeParse({ serverApiBaseUrl: 'http://im:18080', robotId: 'r', allowedSourceCidrs: ['nope'] }).success).toBe(false);
  });
  it('generates a callback token when absent and keeps a given one', () => {
    const a = WildfireSecrets.parse({ adminSecret: 'x' });
    const b = WildfireSecrets.parse({ adminSecret: 'x' });
    expect(a.callbackToken).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(a.callbackToken).not.toBe(b.callbackToken);
    expect(WildfireSecrets.parse({ adminSecret: 'x', callbackToken: 'abcdefghijklmnop' }).callbackToken).toBe('abcdefghijklmnop');
    expect(WildfireSecrets.safeParse({ adminSecret: 'x', callbackToken: 'short' }).success).toBe(false);
  });
  it('replies to the user in a 1:1 chat and to the group for a group contact', () => {
    expect(replyTarget('u_alice')).toEqual({ type: 0, target: 'u_alice', line: 0 });
    expect(replyTarget('group:g1')).toEqual({ type: 1, target: 'g1', line: 0 });
  });
});

describe('failures', () => {
  it('maps WildfireChat codes: auth, permission and content errors fail; server errors, timeouts and rate limits retry', () => {
    expect(wildfireFailure(244, 'auth failure', 200)).toEqual({ kind: 'rejected', reason: 'WildfireChat error 244: auth failure', code: 'wildfire_244' });
    expect(wildfireFailure(244, 'auth failure', 401)).toMatchObject({ kind: 'rejected', code: 'wildfire_244' });
    expect(wildfireFailure(242, '', 200)).toMatchObject({ kind: 'rejected', reason: 'WildfireChat error 242: sensitive matched' });
    expect(wildfireFailure(250, 'over frequency', 200)).toMatchObject({ kind: 'retry', retryAfterMs: 2000 });
    expect(wildfireFailure(4, 'server error', 200).kind).toBe('retry');
    expect(wildfireFailure(249, 'timeout', 200).kind).toBe('retry');
  });
});

describe('payloads', () => {
  it('maps the predefined contents', () => {
    expect(mapPayload({ type: 1, searchableContent: 'hello' })).toMatchObject({ kind: 'text', text: 'hello' });
    const quote = Buffer.from('{"quote":{"u":432595101554835586,"i":"u1","n":"Nick","d":"digest"}}').toString('base64');
    expect(mapPayload({ type: 1, searchableContent: 're', base64edData: quote })!.meta.quote).toEqual({ messageId: '432595101554835586', sender: 'u1', name: 'Nick', digest: 'digest' });
    expect(mapPayload({ type: 2, remoteMediaUrl: 'http://m/v.amr', content: '{"duration":7}' })).toMatchObject({ kind: 'voice', media: { url: 'http://m/v.amr', fallbackMime: 'audio/amr' }, meta: { duration: 7 } });
    expect(mapPayload({ type: 5, searchableContent: 'a.pdf', content: '123', remoteMediaUrl: 'http://m/x' })).toMatchObject({ text: 'a.pdf', media: { name: 'a.pdf', size: 123 } });
    expect(mapPayload({ type: 4, searchableContent: 'Here', content: '{"lat":1.5,"long":2.25}' })).toMatchObject({ text: 'Here (1.5, 2.25)', meta: { location: { lat: 1.5, long: 2.25, title: 'Here' } } });
    const link = Buffer.from('{"d":"digest","u":"https://docs.wildfirechat.cn/","t":"https://t"}').toString('base64');
    expect(mapPayload({ type: 8, searchableContent: 'Docs', base64edData: link })).toMatchObject({ text: 'Docs\nhttps://docs.wildfirechat.cn/' });
    expect(mapPayload({ type: 1234, content: 'custom' })).toMatchObject({ text: 'custom', meta: { unsupported: true } });
    for (const t of [80, 90, 91, 104, 400]) expect(mapPayload({ type: t })).toBeNull();
    expect(mapPayload({ type: 14, persistFlag: 4, searchableContent: 'streaming…' })).toBeNull();
  });
  it('types media by Content-Type, else by extension', () => {
    expect(mediaMime('image/png; charset=binary', 'x.jpg', 'image/jpeg')).toBe('image/png');
    expect(mediaMime('application/octet-stream', 'v.amr', 'audio/amr')).toBe('audio/amr');
    expect(mediaMime(null, 'noext', 'image/jpeg')).toBe('image/jpeg');
  });
});

describe('OpenAPI', () => {
  it('documents the provider\'s config and secrets (without a sample token)', () => {
    const schemas = (buildOpenApi('test') as { components: { schemas: Record<string, { properties?: Record<string, unknown>; required?: string[] }> } }).components.schemas;
    const config = schemas['Provider.im/wildfire.config']!;
    const secrets = schemas['Provider.im/wildfire.secrets']!;
    expect(Object.keys(config.properties!)).toEqual(expect.arrayContaining(['serverApiBaseUrl', 'robotId', 'allowedSourceCidrs', 'sendVia']));
    expect(config.required).toEqual(['serverApiBaseUrl']);
    expect(Object.keys(secrets.properties!)).toEqual(['adminSecret', 'robotSecret', 'callbackToken']);
    expect(secrets.required).toEqual(['adminSecret']);
    expect(JSON.stringify(secrets)).not.toContain('"default"');
  });
});

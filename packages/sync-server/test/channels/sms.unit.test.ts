import { describe, expect, it } from 'vitest';
import { countSegments, isGsm7, smsCost } from '../../src/channels/sms/segments.js';
import { aliyunCanonicalQuery, aliyunPercentEncode, aliyunPhone, aliyunSignature, aliyunTimestamp } from '../../src/channels/aliyun/index.js';
import { parseForm, twilioSignature, verifyTwilioSignature, mapTwilioStatus } from '../../src/channels/twilio/index.js';
import { decodeKannelText, mapKannelDlr, rawQuery } from '../../src/channels/kannel/index.js';
import { optKeyword } from '../../src/channels/optout/index.js';

describe('SMS segments', () => {
  it('GSM-7: 160 septets in one message, 153 per concatenated segment', () => {
    expect(countSegments('')).toMatchObject({ encoding: 'GSM-7', segments: 1, units: 0 });
    expect(countSegments('a'.repeat(160))).toMatchObject({ encoding: 'GSM-7', segments: 1, units: 160, perSegment: 160 });
    expect(countSegments('a'.repeat(161))).toMatchObject({ encoding: 'GSM-7', segments: 2, units: 161, perSegment: 153 });
    expect(countSegments('a'.repeat(306))).toMatchObject({ segments: 2 });
    expect(countSegments('a'.repeat(307))).toMatchObject({ segments: 3 });
    expect(countSegments('a'.repeat(459))).toMatchObject({ segments: 3 });
    expect(countSegments('a'.repeat(460))).toMatchObject({ segments: 4 });
  });

  it('GSM-7 extension characters take two septets and an escape pair is never split', () => {
    expect(isGsm7('Price: 5€ [promo] {x} ~ ^ | \\')).toBe(true);
    expect(countSegments('€'.repeat(80))).toMatchObject({ encoding: 'GSM-7', units: 160, segments: 1 });
    expect(countSegments('€'.repeat(81))).toMatchObject({ units: 162, segments: 2 });
    // 152 plain septets then '€': the pair does not fit in the first segment's last septet.
    expect(countSegments(`${'a'.repeat(152)}€${'a'.repeat(152)}`)).toMatchObject({ units: 306, segments: 3 });
    expect(countSegments(`${'a'.repeat(151)}€${'a'.repeat(153)}`)).toMatchObject({ units: 306, segments: 2 });
    // Accented Latin letters of the GSM alphabet stay GSM-7; others switch to UCS-2.
    expect(countSegments('Ça coûte 5£, déjà vu')).toMatchObject({ encoding: 'UCS-2' }); // û and â are not GSM-7
    expect(countSegments('Où est la gare? à 5£')).toMatchObject({ encoding: 'GSM-7' });
  });

  it('UCS-2: 70 code units in one message, 67 per segment, surrogate pairs kept whole', () => {
    expect(countSegments('你好'.repeat(35))).toMatchObject({ encoding: 'UCS-2', segments: 1, units: 70, perSegment: 70 });
    expect(countSegments('你'.repeat(71))).toMatchObject({ encoding: 'UCS-2', segments: 2, perSegment: 67 });
    expect(countSegments('你'.repeat(134))).toMatchObject({ segments: 2 });
    expect(countSegments('你'.repeat(135))).toMatchObject({ segments: 3 });
    // One non-GSM character switches the whole message: 100 latin letters + one Chinese = 2 UCS-2 segments.
    expect(countSegments(`${'a'.repeat(100)}好`)).toMatchObject({ encoding: 'UCS-2', units: 101, segments: 2 });
    // Emoji are surrogate pairs (2 units); 35 fit one message exactly.
    expect(countSegments('😀'.repeat(35))).toMatchObject({ units: 70, segments: 1 });
    // 66 units then an emoji: the pair does not fit in the first segment's last unit.
    expect(countSegments(`${'好'.repeat(66)}😀${'好'.repeat(66)}`)).toMatchObject({ units: 134, segments: 3 });
    expect(countSegments(`${'好'.repeat(65)}😀${'好'.repeat(67)}`)).toMatchObject({ units: 134, segments: 2 });
  });

  it('the cn rule counts characters 70/67 whatever they are (Aliyun billing, signature included)', () => {
    expect(countSegments('【沟通】' + '好'.repeat(66), 'cn')).toMatchObject({ units: 70, segments: 1 });
    expect(countSegments('【沟通】' + '好'.repeat(67), 'cn')).toMatchObject({ units: 71, segments: 2 });
    expect(countSegments('a'.repeat(134), 'cn')).toMatchObject({ segments: 2 });
    expect(countSegments('a'.repeat(135), 'cn')).toMatchObject({ segments: 3 });
  });

  it('cost is segments × the configured price', () => {
    expect(smsCost(3, 0.0079, 'USD')).toEqual({ amount: 0.0237, currency: 'USD', units: 3 });
    expect(smsCost(2, 0.045, 'CNY')).toEqual({ amount: 0.09, currency: 'CNY', units: 2 });
    expect(smsCost(1, 0, 'USD')).toEqual({ amount: 0, currency: 'USD', units: 1 });
  });
});

describe('Twilio X-Twilio-Signature', () => {
  it('reproduces the documented worked example', () => {
    const params = { CallSid: 'CA1234567890ABCDE', Caller: '+12349013030', Digits: '1234', From: '+12349013030', To: '+18005551212' };
    expect(twilioSignature('12345', 'https://mycompany.com/myapp.php?foo=1&bar=2', params)).toBe('0/KCTR6DLpKmkAf8muzZqo1nDgQ=');
    const form = parseForm(new URLSearchParams(params).toString());
    expect(verifyTwilioSignature('12345', 'https://mycompany.com/myapp.php?foo=1&bar=2', form, '0/KCTR6DLpKmkAf8muzZqo1nDgQ=')).toBe(true);
    // Twilio may have signed the URL with its default port.
    expect(verifyTwilioSignature('12345', 'https://mycompany.com:443/myapp.php?foo=1&bar=2', form, '0/KCTR6DLpKmkAf8muzZqo1nDgQ=')).toBe(true);
    expect(verifyTwilioSignature('12345', 'https://mycompany.com/myapp.php?foo=1&bar=3', form, '0/KCTR6DLpKmkAf8muzZqo1nDgQ=')).toBe(false);
    expect(verifyTwilioSignature('54321', 'https://mycompany.com/myapp.php?foo=1&bar=2', form, '0/KCTR6DLpKmkAf8muzZqo1nDgQ=')).toBe(false);
    expect(verifyTwilioSignature('12345', 'https://mycompany.com/myapp.php?foo=1&bar=2', { ...form, Digits: ['1235'] }, '0/KCTR6DLpKmkAf8muzZqo1nDgQ=')).toBe(false);
    expect(verifyTwilioSignature('12345', 'https://mycompany.com/myapp.php?foo=1&bar=2', form, undefined)).toBe(false);
  });

  it('repeated keys contribute every value, sorted', () => {
    const a = twilioSignature('t', 'https://x.test/h', { MediaUrl: ['b', 'a'], Body: ['x'] });
    const b = twilioSignature('t', 'https://x.test/h', { Body: ['x'], MediaUrl: ['a', 'b'] });
    expect(a).toBe(b);
  });

  it('maps Twilio statuses to ours', () => {
    expect(mapTwilioStatus('delivered')).toBe('delivered');
    expect(mapTwilioStatus('undelivered')).toBe('failed');
    expect(mapTwilioStatus('failed')).toBe('failed');
    expect(mapTwilioStatus('sent')).toBe('accepted');
    expect(mapTwilioStatus('receiving')).toBe(null);
  });
});

describe('Aliyun RPC signature v1', () => {
  it('reproduces the documented ECS example', () => {
    const params = {
      AccessKeyId: 'testid', Action: 'DescribeRegions', Format: 'XML', SignatureMethod: 'HMAC-SHA1',
      SignatureNonce: '3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf', SignatureVersion: '1.0', Timestamp: '2016-02-23T12:46:24Z', Version: '2014-05-26',
    };
    expect(aliyunSignature('GET', params, 'testsecret')).toBe('OLeaidS1JvxuMvnyHOwuJ+uX5qY=');
  });

  it('reproduces the documented SendSms example', () => {
    const params = {
      AccessKeyId: 'testId', Action: 'SendSms', Format: 'XML', OutId: '123', PhoneNumbers: '15300000001', RegionId: 'cn-hangzhou',
      SignName: '阿里云短信测试专用', SignatureMethod: 'HMAC-SHA1', SignatureNonce: '45e25e9b-0a6f-4070-8c85-2956eda1b466', SignatureVersion: '1.0',
      TemplateCode: 'SMS_71390007', TemplateParam: '{"customer":"test"}', Timestamp: '2017-07-12T02:42:19Z', Version: '2017-05-25',
    };
    expect(aliyunSignature('GET', params, 'testSecret')).toBe('zJDF+Lrzhj/ThnlvIToysFRq6t4=');
    // The Signature parameter itself is never signed.
    expect(aliyunSignature('GET', { ...params, Signature: 'zJDF+Lrzhj/ThnlvIToysFRq6t4=' }, 'testSecret')).toBe('zJDF+Lrzhj/ThnlvIToysFRq6t4=');
    expect(aliyunSignature('POST', params, 'testSecret')).not.toBe('zJDF+Lrzhj/ThnlvIToysFRq6t4=');
  });

  it('percent-encodes as RFC 3986 with !\'()* and spaces escaped, and sorts keys', () => {
    expect(aliyunPercentEncode("a b*c~d!e'(f)")).toBe('a%20b%2Ac~d%21e%27%28f%29');
    expect(aliyunPercentEncode('阿')).toBe('%E9%98%BF');
    expect(aliyunCanonicalQuery({ b: '2', a: '1', Signature: 'x', B: '0' })).toBe('B=0&a=1&b=2');
    expect(aliyunTimestamp(Date.UTC(2017, 6, 12, 2, 42, 19, 123))).toBe('2017-07-12T02:42:19Z');
    expect(aliyunPhone('+8613800138000')).toBe('13800138000');
    expect(aliyunPhone('+85291234567')).toBe('85291234567');
  });
});

describe('Kannel MO decoding and DLR mapping', () => {
  it('decodes UTF-8, UCS-2 (UTF-16BE) and 8-bit payloads from the raw query', () => {
    const utf8 = rawQuery('/inbound?from=%2B15550001&text=%E4%BD%A0%E5%A5%BD%EF%BC%8C%E9%80%80%E8%AE%A2&coding=1&charset=8-BIT');
    expect(decodeKannelText(utf8.get('text')!, '1', '8-BIT')).toBe('你好，退订');
    expect(utf8.get('from')!.toString()).toBe('+15550001');
    const ucs2 = rawQuery('/inbound?text=%90%00%8B%A2&coding=2&charset=UTF-16BE');
    expect(decodeKannelText(ucs2.get('text')!, '2', 'UTF-16BE')).toBe('退订');
    const plain = rawQuery('/inbound?text=hello+there&coding=0&charset=UTF-8');
    expect(decodeKannelText(plain.get('text')!, '0', 'UTF-8')).toBe('hello there');
    expect(decodeKannelText(Buffer.from([0xe9, 0x74, 0xe9]), '1', '8-BIT')).toBe('été');
  });

  it('maps DLR types', () => {
    expect(mapKannelDlr(1)).toBe('delivered');
    expect(mapKannelDlr(2)).toBe('failed');
    expect(mapKannelDlr(16)).toBe('failed');
    expect(mapKannelDlr(8)).toBe('accepted');
    expect(mapKannelDlr(4)).toBe('accepted');
  });
});

describe('opt-out keywords', () => {
  it('recognises STOP/退订 and START, only as the whole message', () => {
    for (const t of ['STOP', 'stop', ' Stop. ', '退订', 'TD', 'unsubscribe', '取消订阅', 'ＳＴＯＰ']) expect(optKeyword(t), t).toBe('out');
    for (const t of ['START', 'unstop', '订阅']) expect(optKeyword(t), t).toBe('in');
    for (const t of ['please stop calling me at work', '我想退订会员服务吗？', 'stopping by tomorrow', '']) expect(optKeyword(t), t).toBe(null);
  });
});

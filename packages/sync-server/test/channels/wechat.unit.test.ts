import { describe, expect, it } from 'vitest';
import { aesKeyOf, signatureMatches, wechatDecrypt, wechatEncrypt, wechatSignature, WechatCryptoError } from '../../src/channels/wechat-common/crypto.js';
import { buildWechatXml, parseWechatXml, xmlText, XmlError } from '../../src/channels/wechat-common/xml.js';
import { fileNameOf } from '../../src/channels/wechat-common/api.js';
import { mapWechatInbound, WechatInbound, flatFields } from '../../src/channels/wechat/index.js';
import { mapKfMessage, KfMessage } from '../../src/channels/wecom-kf/index.js';

/*
 * Worked examples from Tencent's message-encryption samples (WXBizMsgCrypt):
 * - the Official Account sample (WXBizMsgCryptTest.java): EncodingAESKey
 *   abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG, AppID wxb11529c136998cb6, random "aaaabbbbccccdddd",
 *   message "我是中文abcd123" → the ciphertext below;
 * - the WeCom sample (Sample.py of the callback library): Token hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo,
 *   EncodingAESKey 6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt, CorpID ww1436e0e65a779aee; the URL
 *   verification (msg_signature 012bc692…, echostr → "1288432023552776189") and the POSTed message
 *   (msg_signature 0c391402…, decrypting to a text message "你好" from ChenJiaShun).
 */
const OA = { key: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG', appId: 'wxb11529c136998cb6' };
const WECOM = { token: 'hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo', key: '6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt', corpId: 'ww1436e0e65a779aee' };
const VERIFY = { sig: '012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb', ts: '1476416373', nonce: '47744683', echostr: 'fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA==' };
const POST = {
  sig: '0c3914025cb4b4d68103f6bfc8db550f79dcf48e',
  ts: '1476422779',
  nonce: '1597212914',
  body: '<xml><ToUserName><![CDATA[ww1436e0e65a779aee]]></ToUserName>\n<Encrypt><![CDATA[Kl7kjoSf6DMD1zh7rtrHjFaDapSCkaOnwu3bqLc5tAybhhMl9pFeK8NslNPVdMwmBQTNoW4mY7AIjeLvEl3NyeTkAgGzBhzTtRLNshw2AEew+kkYcD+Fq72Kt00fT0WnN87hGrW8SqGc+NcT3mu87Ha3dz1pSDi6GaUA6A0sqfde0VJPQbZ9U+3JWcoD4Z5jaU0y9GSh010wsHF8KZD24YhmZH4ch4Ka7ilEbjbfvhKkNL65HHL0J6EYJIZUC2pFrdkJ7MhmEbU2qARR4iQHE7wy24qy0cRX3Mfp6iELcDNfSsPGjUQVDGxQDCWjayJOpcwocugux082f49HKYg84EpHSGXAyh+/oxwaWbvL6aSDPOYuPDGOCI8jmnKiypE+]]></Encrypt>\n<AgentID><![CDATA[1000002]]></AgentID>\n</xml>',
};

describe('WeChat message crypto (worked examples of the official samples)', () => {
  it('Official Account sample: AES-256-CBC of random16 + length + message + AppID', () => {
    const c = wechatEncrypt(OA.key, OA.appId, '我是中文abcd123', Buffer.from('aaaabbbbccccdddd'));
    expect(c).toBe('jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg==');
    expect(wechatDecrypt(OA.key, c, OA.appId)).toEqual({ message: '我是中文abcd123', receiveId: OA.appId });
  });

  it('WeCom sample: URL verification signature and echostr', () => {
    expect(wechatSignature(WECOM.token, VERIFY.ts, VERIFY.nonce, VERIFY.echostr)).toBe(VERIFY.sig);
    expect(signatureMatches(VERIFY.sig, [WECOM.token, VERIFY.ts, VERIFY.nonce, VERIFY.echostr])).toBe(true);
    expect(signatureMatches(VERIFY.sig.toUpperCase(), [WECOM.token, VERIFY.ts, VERIFY.nonce, VERIFY.echostr])).toBe(true);
    expect(signatureMatches(VERIFY.sig, [WECOM.token, VERIFY.ts, '47744684', VERIFY.echostr])).toBe(false);
    expect(signatureMatches(undefined, [WECOM.token])).toBe(false);
    expect(wechatDecrypt(WECOM.key, VERIFY.echostr, WECOM.corpId).message).toBe('1288432023552776189');
  });

  it('WeCom sample: the POSTed message verifies and decrypts to the documented text message', () => {
    const outer = parseWechatXml(POST.body);
    const enc = xmlText(outer, 'Encrypt')!;
    expect(signatureMatches(POST.sig, [WECOM.token, POST.ts, POST.nonce, enc])).toBe(true);
    const { message, receiveId } = wechatDecrypt(WECOM.key, enc, WECOM.corpId);
    expect(receiveId).toBe(WECOM.corpId);
    expect(parseWechatXml(message)).toEqual({ ToUserName: 'ww1436e0e65a779aee', FromUserName: 'ChenJiaShun', CreateTime: '1476422779', MsgType: 'text', Content: '你好', MsgId: '1456453720', AgentID: '1000002' });
  });

  it('refuses another account, another key, bad padding and non-base64', () => {
    const c = wechatEncrypt(WECOM.key, WECOM.corpId, 'hello');
    expect(() => wechatDecrypt(WECOM.key, c, 'wwaaaaaaaaaaaaaaaa')).toThrow(WechatCryptoError);
    expect(() => wechatDecrypt(OA.key, c, WECOM.corpId)).toThrow(WechatCryptoError);
    expect(() => wechatDecrypt(WECOM.key, 'not*base64', WECOM.corpId)).toThrow(/base64/);
    expect(() => wechatDecrypt(WECOM.key, Buffer.alloc(15).toString('base64'), WECOM.corpId)).toThrow(/blocks/);
    expect(() => aesKeyOf('short')).toThrow(/43/);
    // Random prefix: two encryptions differ, both decrypt.
    expect(wechatEncrypt(WECOM.key, WECOM.corpId, 'x')).not.toBe(wechatEncrypt(WECOM.key, WECOM.corpId, 'x'));
  });
});

describe('the strict WeChat XML parser', () => {
  it('reads CDATA, bare text, entities, nested event details and the XML declaration', () => {
    const x = parseWechatXml('<?xml version="1.0"?>\n<xml><A><![CDATA[a <b> & ]]]]><![CDATA[> c]]></A><B>1 &lt; 2 &amp;&#x4f60;&#22909;</B><E/><Pics><Count>2</Count><item><M>x</M></item><item><M>y</M></item></Pics></xml>');
    expect(x).toEqual({ A: 'a <b> & ]]> c', B: '1 < 2 &你好', E: '', Pics: { Count: '2', item: [{ M: 'x' }, { M: 'y' }] } });
    expect(flatFields(x)).toEqual({ A: 'a <b> & ]]> c', B: '1 < 2 &你好', E: '' });
  });

  it('round-trips what it builds, "]]>" included', () => {
    const built = buildWechatXml({ Content: 'a]]>b', CreateTime: 5 });
    expect(parseWechatXml(built)).toEqual({ Content: 'a]]>b', CreateTime: '5' });
  });

  it('refuses DTDs and entities, wrong roots, mismatched tags, stray text and junk after the root', () => {
    const bad = [
      '<!DOCTYPE xml [<!ENTITY x "y">]><xml><A>&x;</A></xml>',
      '<xml><A>&x;</A></xml>',
      '<xml><A>a & b</A></xml>',
      '<root><A>1</A></root>',
      '<xml><A>1</B></xml>',
      '<xml><A>1</A>text</xml>',
      '<xml><A>1</A></xml><xml/>',
      '<xml><A><![CDATA[open</A></xml>',
      '<xml><?php ?></xml>',
      '<xml><A>',
      '',
      `<xml>${'<a>'.repeat(20)}${'</a>'.repeat(20)}</xml>`,
    ];
    for (const b of bad) expect(() => parseWechatXml(b), b).toThrow(XmlError);
  });

  it('Content-Disposition file names', () => {
    expect(fileNameOf('attachment; filename="MEDIA_ID.jpg"')).toBe('MEDIA_ID.jpg');
    expect(fileNameOf("attachment; filename*=UTF-8''%E5%9B%BE.png")).toBe('图.png');
    expect(fileNameOf('attachment; filename="../../etc/passwd"')).toBe('.._.._etc_passwd');
    expect(fileNameOf(null)).toBeNull();
  });
});

describe('message mapping', () => {
  const base = { ToUserName: 'gh_1', FromUserName: 'oUSER', CreateTime: '1700000000' };
  it('Official Account: text, image, voice with recognition, events; unknown events ignored', () => {
    const t = mapWechatInbound(WechatInbound.parse({ ...base, MsgType: 'text', Content: '你好', MsgId: '123' }));
    expect(t).toMatchObject({ kind: 'message', externalId: '123', text: '你好', msgKind: 'text' });
    const v = mapWechatInbound(WechatInbound.parse({ ...base, MsgType: 'voice', MediaId: 'm1', Format: 'speex', Recognition: '我要退货', MsgId: '124' }));
    expect(v).toMatchObject({ kind: 'message', text: '我要退货', msgKind: 'voice', media: { mediaId: 'm1', fallbackMime: 'audio/speex' } });
    const sub = mapWechatInbound(WechatInbound.parse({ ...base, MsgType: 'event', Event: 'subscribe', EventKey: 'qrscene_42' }));
    expect(sub).toMatchObject({ kind: 'event', event: 'subscribe', externalId: 'event:oUSER:1700000000:subscribe', meta: { qrScene: '42' } });
    expect(mapWechatInbound(WechatInbound.parse({ ...base, MsgType: 'event', Event: 'VIEW', EventKey: 'https://x' }))).toMatchObject({ kind: 'ignored' });
    expect(WechatInbound.safeParse({ ...base, MsgType: 'text', Content: 'x' }).success).toBe(false); // no MsgId
  });

  it('WeCom kf: customers\' messages and enter_session; servicer messages and other events are not stored', () => {
    const m = (o: Record<string, unknown>) => mapKfMessage(KfMessage.parse({ msgid: 'id1', open_kfid: 'wk1', external_userid: 'wmU', send_time: 1700000000, ...o }));
    expect(m({ origin: 3, msgtype: 'text', text: { content: '在吗' } })).toMatchObject({ kind: 'message', externalUserId: 'wmU', text: '在吗' });
    expect(m({ origin: 3, msgtype: 'image', image: { media_id: 'MI' } })).toMatchObject({ kind: 'message', media: { mediaId: 'MI' } });
    expect(m({ origin: 5, msgtype: 'text', text: { content: 'ours' } })).toMatchObject({ kind: 'ignored' });
    expect(m({ origin: 4, msgtype: 'event', event: { event_type: 'enter_session', external_userid: 'wmU', scene: 'menu' } })).toMatchObject({ kind: 'event', meta: { event: 'enter_session', scene: 'menu' } });
    expect(m({ origin: 4, msgtype: 'event', event: { event_type: 'msg_send_fail', external_userid: 'wmU' } })).toMatchObject({ kind: 'ignored' });
  });
});

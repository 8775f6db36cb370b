import crypto from 'node:crypto';
import type http from 'node:http';
import { HttpFake } from './httpFake.js';
import { fakeAliyunSign } from './aliyunRpcSign.js';

export { fakeAliyunSign };

export interface AliyunSent {
  bizId: string;
  phoneNumbers: string;
  signName: string;
  templateCode: string;
  templateParam: Record<string, string>;
  outId: string | null;
  at: number;
}

/**
 * A Dysmsapi double: `SendSms` by GET or POST with the v1 RPC signature, checked (signature,
 * access key, timestamp within 15 minutes, nonce never reused, required parameters); it pushes
 * SmsReport and SmsUp JSON arrays to the configured URLs and expects `{"code":0}` back.
 */
export class FakeAliyun extends HttpFake {
  readonly accessKeyId = `LTAI${crypto.randomBytes(8).toString('hex')}`;
  readonly accessKeySecret = crypto.randomBytes(15).toString('base64url');
  readonly sent: AliyunSent[] = [];
  readonly refused: { code: string; at: number }[] = [];
  private nonces = new Set<string>();
  /** QuerySendDetails calls (reconciliation before a second attempt). */
  queried = 0;
  /** Take (and so "send") this many messages without ever answering: the answer is lost. */
  acceptWithoutAnswer = 0;

  protected handle(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const params: Record<string, string> = {};
    for (const [k, v] of url.searchParams) params[k] = v;
    if (req.method === 'POST') for (const [k, v] of new URLSearchParams(body.toString('utf8'))) params[k] = v;
    const requestId = crypto.randomUUID().toUpperCase();
    const answer = (status: number, o: Record<string, unknown>) => {
      if (o.Code !== 'OK') this.refused.push({ code: String(o.Code), at: Date.now() });
      res.writeHead(status, { 'content-type': 'application/json;charset=utf-8' }).end(JSON.stringify({ RequestId: requestId, ...o }));
    };
    if (params.AccessKeyId !== this.accessKeyId) return answer(404, { Code: 'InvalidAccessKeyId.NotFound', Message: 'Specified access key is not found.' });
    if (params.SignatureMethod !== 'HMAC-SHA1' || params.SignatureVersion !== '1.0') return answer(400, { Code: 'InvalidSignatureMethod', Message: 'bad signature method' });
    const expected = fakeAliyunSign(req.method ?? 'GET', params, this.accessKeySecret);
    if (params.Signature !== expected) return answer(400, { Code: 'SignatureDoesNotMatch', Message: 'Specified signature is not matched with our calculation.' });
    const ts = Date.parse(params.Timestamp ?? '');
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(params.Timestamp ?? '') || Math.abs(Date.now() - ts) > 15 * 60_000) {
      return answer(400, { Code: 'InvalidTimeStamp.Expired', Message: 'Specified time stamp or date value is expired.' });
    }
    if (!params.SignatureNonce || this.nonces.has(params.SignatureNonce)) return answer(400, { Code: 'SignatureNonceUsed', Message: 'Specified signature nonce was used already.' });
    this.nonces.add(params.SignatureNonce);
    if (params.Action === 'QuerySendDetails' && params.Version === '2017-05-25') {
      // SmsSendDetailDTOs of one number on one China-time day (yyyyMMdd), with the OutId we were given.
      this.queried++;
      if (!params.PhoneNumber || !/^\d{8}$/.test(params.SendDate ?? '') || !params.PageSize || !params.CurrentPage) return answer(400, { Code: 'MissingParameter', Message: 'PhoneNumber, SendDate, PageSize and CurrentPage are required' });
      const day = (ms: number) => new Date(ms + 8 * 3600_000).toISOString().slice(0, 10).replaceAll('-', '');
      const rows = this.sent
        .filter((x) => x.phoneNumbers.split(',').includes(params.PhoneNumber!) && day(x.at) === params.SendDate)
        .map((x) => ({ PhoneNum: params.PhoneNumber, SendStatus: 3, ErrCode: 'DELIVERED', TemplateCode: x.templateCode, Content: JSON.stringify(x.templateParam), SendDate: FakeAliyun.cst(x.at), ReceiveDate: FakeAliyun.cst(x.at), OutId: x.outId ?? '' }));
      return answer(200, { Code: 'OK', Message: 'OK', TotalCount: rows.length, SmsSendDetailDTOs: { SmsSendDetailDTO: rows } });
    }
    if (params.Action !== 'SendSms' || params.Version !== '2017-05-25') return answer(404, { Code: 'InvalidAction.NotFound', Message: 'Specified api is not found' });
    if (!params.PhoneNumbers || !/^\d{5,15}(,\d{5,15})*$/.test(params.PhoneNumbers)) return answer(200, { Code: 'isv.MOBILE_NUMBER_ILLEGAL', Message: '非法手机号' });
    if (!params.SignName) return answer(200, { Code: 'isv.SMS_SIGNATURE_ILLEGAL', Message: '签名不合法' });
    if (!params.TemplateCode) return answer(200, { Code: 'isv.SMS_TEMPLATE_ILLEGAL', Message: '模板不合法' });
    let templateParam: Record<string, string>;
    try {
      templateParam = JSON.parse(params.TemplateParam ?? '{}') as Record<string, string>;
    } catch {
      return answer(200, { Code: 'isv.INVALID_JSON_PARAM', Message: 'JSON参数不合法' });
    }
    const bizId = `${Date.now()}${crypto.randomInt(100000, 999999)}^0`;
    this.sent.push({ bizId, phoneNumbers: params.PhoneNumbers, signName: params.SignName, templateCode: params.TemplateCode, templateParam, outId: params.OutId ?? null, at: Date.now() });
    if (this.acceptWithoutAnswer > 0) {
      this.acceptWithoutAnswer--;
      req.socket.destroy();
      return;
    }
    return answer(200, { Code: 'OK', Message: 'OK', BizId: bizId });
  }

  private static cst(ms: number): string {
    return new Date(ms + 8 * 3600_000).toISOString().replace('T', ' ').slice(0, 19);
  }

  /** Pushes receipts (SmsReport) as Aliyun's HTTP batch push does; returns the response. */
  pushReport(url: string, items: { bizId: string; success: boolean; errCode?: string; errMsg?: string }[]): Promise<Response> {
    const body = items.map((i) => {
      const s = this.sent.find((x) => x.bizId === i.bizId);
      return {
        phone_number: s?.phoneNumbers ?? '',
        send_time: FakeAliyun.cst(s?.at ?? Date.now()),
        report_time: FakeAliyun.cst(Date.now()),
        success: i.success,
        err_code: i.errCode ?? (i.success ? 'DELIVERED' : 'MK:0001'),
        err_msg: i.errMsg ?? (i.success ? '用户接收成功' : '失败'),
        sms_size: '1',
        biz_id: i.bizId,
        out_id: s?.outId ?? '',
      };
    });
    return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  }

  /** Pushes inbound messages (SmsUp). */
  pushUp(url: string, items: { phone: string; content: string; sequenceId?: number }[]): Promise<Response> {
    const body = items.map((i) => ({
      phone_number: i.phone,
      send_time: FakeAliyun.cst(Date.now()),
      content: i.content,
      sign_name: '沟通',
      dest_code: '1234',
      sequence_id: i.sequenceId ?? crypto.randomInt(1, 2 ** 31),
    }));
    return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  }
}

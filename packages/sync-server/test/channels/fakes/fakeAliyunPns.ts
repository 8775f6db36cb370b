import crypto from 'node:crypto';
import type http from 'node:http';
import { HttpFake } from './httpFake.js';
import { fakeAliyunSign } from './aliyunRpcSign.js';

export interface PnsBinding {
  subsId: string;
  poolKey: string;
  a: string;
  b: string;
  x: string;
  /** ms, from `Expiration` (China Standard Time) */
  expiresAt: number;
  outId: string | null;
  recording: boolean;
  unboundAt: number | null;
}

/**
 * A FAKE of Aliyun 号码隐私保护 (Dyplsapi, API version 2017-05-25): `BindAxb` and
 * `UnbindSubscription` by POST with the v1 RPC signature, checked as Aliyun documents it (its own
 * implementation: access key, HMAC-SHA1 over the canonical query, timestamp within 15 minutes,
 * nonce never reused, Format/Version/SignatureMethod), the number formats (mainland numbers without
 * +86), `Expiration` in the future, a pool of virtual numbers, and the AXB rule that one X cannot
 * bind the same A twice at once. `connect(x, caller, at)` tells whom a call to X reaches: B when A
 * calls X while the binding lives, nobody otherwise (expired or unbound).
 */
export class FakeAliyunPns extends HttpFake {
  readonly accessKeyId = `LTAI${crypto.randomBytes(8).toString('hex')}`;
  readonly accessKeySecret = crypto.randomBytes(15).toString('base64url');
  readonly poolKey = `FC${crypto.randomBytes(6).toString('hex')}`;
  readonly pool = ['17100001111', '17100002222', '17100003333'];
  readonly bindings: PnsBinding[] = [];
  readonly refused: string[] = [];
  private nonces = new Set<string>();
  /** The fake's clock (ms); the bindings expire on it. */
  now: () => number = Date.now;

  /** Whom a call from `caller` to `x` reaches at `at`: B (or A when B calls), or null. */
  connect(x: string, caller: string, at = this.now()): string | null {
    const live = this.bindings.filter((b) => b.x === x && b.unboundAt === null && b.expiresAt > at);
    for (const b of live) {
      if (caller === b.a) return b.b;
      if (caller === b.b) return b.a;
    }
    return null;
  }

  protected handle(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse): void {
    const params: Record<string, string> = {};
    for (const [k, v] of new URLSearchParams(body.toString('utf8'))) params[k] = v;
    const answer = (status: number, o: Record<string, unknown>) => {
      if (o.Code !== 'OK') this.refused.push(String(o.Code));
      res.writeHead(status, { 'content-type': 'application/json;charset=utf-8' }).end(JSON.stringify({ RequestId: crypto.randomUUID().toUpperCase(), ...o }));
    };
    if (req.method !== 'POST' || !String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) return answer(400, { Code: 'InvalidParameter', Message: 'POST a form' });
    if (params.AccessKeyId !== this.accessKeyId) return answer(404, { Code: 'InvalidAccessKeyId.NotFound', Message: 'Specified access key is not found.' });
    if (params.SignatureMethod !== 'HMAC-SHA1' || params.SignatureVersion !== '1.0') return answer(400, { Code: 'InvalidSignatureMethod', Message: 'bad signature method' });
    if (params.Signature !== fakeAliyunSign('POST', params, this.accessKeySecret)) return answer(400, { Code: 'SignatureDoesNotMatch', Message: 'Specified signature is not matched with our calculation.' });
    const ts = Date.parse(params.Timestamp ?? '');
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(params.Timestamp ?? '') || Math.abs(Date.now() - ts) > 15 * 60_000) return answer(400, { Code: 'InvalidTimeStamp.Expired', Message: 'Specified time stamp or date value is expired.' });
    if (!params.SignatureNonce || this.nonces.has(params.SignatureNonce)) return answer(400, { Code: 'SignatureNonceUsed', Message: 'Specified signature nonce was used already.' });
    this.nonces.add(params.SignatureNonce);
    if (params.Version !== '2017-05-25' || params.Format !== 'JSON') return answer(400, { Code: 'InvalidVersion', Message: 'Specified parameter Version is not valid.' });
    if (params.PoolKey !== this.poolKey) return answer(400, { Code: 'isv.NO_AVAILABLE_NUMBER', Message: 'no such pool' });
    const cnNumber = /^(1\d{10}|0\d{9,11})$/;
    switch (params.Action) {
      case 'BindAxb': {
        const { PhoneNoA: a, PhoneNoB: b, Expiration: exp } = params;
        if (!a || !b || !cnNumber.test(a) || !cnNumber.test(b)) return answer(400, { Code: 'isv.INVALID_PARAMETERS', Message: `PhoneNoA/PhoneNoB: ${a}/${b}` });
        const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})$/.exec(exp ?? '');
        const expiresAt = m ? Date.parse(`${m[1]}T${m[2]}+08:00`) : NaN;
        if (!Number.isFinite(expiresAt) || expiresAt <= this.now()) return answer(400, { Code: 'isv.INVALID_PARAMETERS', Message: `Expiration: ${exp}` });
        const busy = new Set(this.bindings.filter((x) => x.unboundAt === null && x.expiresAt > this.now() && (x.a === a || x.b === a)).map((x) => x.x));
        const x = this.pool.find((n) => !busy.has(n));
        if (!x) return answer(200, { Code: 'isv.NO_AVAILABLE_NUMBER', Message: 'no number available' });
        const subsId = String(1000000000 + this.bindings.length);
        this.bindings.push({ subsId, poolKey: params.PoolKey, a, b, x, expiresAt, outId: params.OutId ?? null, recording: params.IsRecordingEnabled === 'true', unboundAt: null });
        return answer(200, { Code: 'OK', Message: 'OK', SecretBindDTO: { SubsId: subsId, SecretNo: x, Extension: '' } });
      }
      case 'UnbindSubscription': {
        const bnd = this.bindings.find((x) => x.subsId === params.SubsId && x.x === params.SecretNo);
        if (!bnd) return answer(200, { Code: 'isv.INVALID_PARAMETERS', Message: 'no such subscription' });
        if (bnd.unboundAt === null) bnd.unboundAt = this.now();
        return answer(200, { Code: 'OK', Message: 'OK' });
      }
      default:
        return answer(400, { Code: 'InvalidAction.NotFound', Message: `${params.Action}` });
    }
  }
}

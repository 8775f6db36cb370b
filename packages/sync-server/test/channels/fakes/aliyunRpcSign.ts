import crypto from 'node:crypto';

/** The fake's own RPC v1 signature check (from Aliyun's documentation, not shared with the server's code). */
function pe(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}
export function fakeAliyunSign(method: string, params: Record<string, string>, secret: string): string {
  const canonical = Object.keys(params)
    .filter((k) => k !== 'Signature')
    .sort()
    .map((k) => `${pe(k)}=${pe(params[k]!)}`)
    .join('&');
  return crypto.createHmac('sha1', `${secret}&`).update(`${method}&${pe('/')}&${pe(canonical)}`, 'utf8').digest('base64');
}

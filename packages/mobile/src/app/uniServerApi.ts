// The server's REST API beside the sync protocol (canned responses, attachment uploads), with
// the session's bearer token. Errors are core's TransportError, so callers tell "offline, try
// later" (retryable) from "the server said no".
import { TransportError, type Attachment } from '@goutong/core';
import type { LocalFile, ServerApi } from './services';
import { IdbFileVault } from '../attachments/vault';

export interface RawResponse {
  status: number;
  text: string;
}

/** Sends one request with a raw body; rejects only when the server cannot be reached. */
export type RawSender = (url: string, init: { method: 'GET' | 'POST'; headers: Record<string, string>; body?: Blob | ArrayBuffer | string }) => Promise<RawResponse>;

function errorOf(status: number, text: string, path: string): TransportError {
  let message = `HTTP ${status}`;
  /** [trust] The server's reason when it gives one (details.reason, e.g. no_privacy_number). */
  let reason: string | undefined;
  try {
    const j = JSON.parse(text) as { error?: { message?: string; details?: { reason?: unknown } }; message?: string };
    message = j.error?.message ?? j.message ?? message;
    if (typeof j.error?.details?.reason === 'string') reason = j.error.details.reason;
  } catch {
    // not JSON
  }
  const kind = status === 401 ? 'auth' : 'http';
  return new TransportError(kind, `${path}: ${message}`, status, reason ?? kind);
}

/** Parses the upload answer into the attachment metadata the reply will reference. */
export function parseAttachment(text: string): Attachment {
  const j = JSON.parse(text) as Partial<Attachment>;
  if (typeof j.id !== 'string' || typeof j.name !== 'string' || typeof j.mime !== 'string' || typeof j.size !== 'number') {
    throw new TransportError('protocol', 'unexpected answer to the upload');
  }
  return { id: j.id, name: j.name, mime: j.mime, size: j.size, ...(j.sha256 ? { sha256: j.sha256 } : {}), ...(j.url ? { url: j.url } : {}) };
}

export interface ServerApiOptions {
  baseUrl: string;
  token(): Promise<string>;
  send: RawSender;
  /** The bytes of a kept file (a Blob on H5, an ArrayBuffer elsewhere), or null when it is gone. */
  bytes(file: LocalFile): Promise<Blob | ArrayBuffer | null>;
  /** Downloads a URL with headers to something an <image> shows (a blob: URL, a temp path). */
  download(url: string, headers: Record<string, string>): Promise<string | null>;
}

export function createServerApi(o: ServerApiOptions): ServerApi {
  const base = o.baseUrl.replace(/\/+$/, '');
  /** Attachments are immutable: each is fetched once per run. */
  const shown = new Map<string, string>();
  const call = async (method: 'GET' | 'POST', path: string, headers: Record<string, string>, body?: Blob | ArrayBuffer | string) => {
    const token = await o.token();
    let res: RawResponse;
    try {
      res = await o.send(`${base}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...headers }, ...(body !== undefined ? { body } : {}) });
    } catch (e) {
      throw new TransportError('network', `cannot reach the server: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (res.status < 200 || res.status >= 300) throw errorOf(res.status, res.text, path);
    return res.text;
  };
  return {
    async getJson(path) {
      return JSON.parse(await call('GET', path, { accept: 'application/json' })) as unknown;
    },
    async postJson(path, body) {
      const bytes = new TextEncoder().encode(JSON.stringify(body ?? {}));
      const text = await call('POST', path, { 'content-type': 'application/json', accept: 'application/json' }, bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
      return text ? (JSON.parse(text) as unknown) : null;
    },
    async uploadAttachment(file) {
      const bytes = await o.bytes(file);
      // Gone from the device: waiting will not bring it back (not retryable).
      if (!bytes) throw new TransportError('protocol', `${file.name} is no longer on this device`);
      const path = `/api/v1/attachments?name=${encodeURIComponent(file.name)}`;
      return parseAttachment(await call('POST', path, { 'content-type': file.mime || 'application/octet-stream' }, bytes));
    },
    async sendJson(method, path, body) {
      return JSON.parse(await call(method, path, { accept: 'application/json', 'content-type': 'application/json' }, JSON.stringify(body))) as unknown;
    },
    async attachmentUrl(a) {
      const known = shown.get(a.id);
      if (known !== undefined) return known;
      try {
        const url = await o.download(`${base}/api/v1/attachments/${encodeURIComponent(a.id)}`, { authorization: `Bearer ${await o.token()}` });
        if (url) shown.set(a.id, url);
        return url;
      } catch {
        return null;
      }
    },
  };
}

/** H5: the browser's fetch (a Blob body streams from IndexedDB as it is). */
export const fetchSender: RawSender = async (url, init) => {
  const res = await fetch(url, { method: init.method, headers: init.headers, ...(init.body !== undefined ? { body: init.body } : {}) });
  return { status: res.status, text: await res.text() };
};

/** app-plus and mp-weixin: uni.request with an ArrayBuffer body (sent as the raw request body). */
export const uniSender: RawSender = (url, init) =>
  new Promise((resolve, reject) => {
    uni.request({
      url,
      method: init.method,
      header: init.headers,
      ...(init.body !== undefined ? { data: init.body as ArrayBuffer | string } : {}),
      dataType: 'text',
      responseType: 'text',
      success: (res) => resolve({ status: res.statusCode, text: typeof res.data === 'string' ? res.data : JSON.stringify(res.data ?? '') }),
      fail: (err) => reject(new Error(err.errMsg || 'request failed')),
    });
  });

interface PlusFileReader {
  onloadend: ((e: { target: { result: unknown } }) => void) | null;
  onerror: ((e: unknown) => void) | null;
  readAsDataURL(file: unknown): void;
}
interface PlusIo {
  resolveLocalFileSystemURL(url: string, ok: (entry: { file(cb: (f: unknown) => void, err?: (e: unknown) => void): void }) => void, err: (e: unknown) => void): void;
  FileReader: new () => PlusFileReader;
}

/** The bytes of a saved file on app-plus (plus.io) or a mini program (the file system manager). */
export function readSavedFile(path: string): Promise<ArrayBuffer | null> {
  const u = uni as unknown as { getFileSystemManager?: () => { readFile(o: { filePath: string; success(r: { data: unknown }): void; fail(e: unknown): void }): void } };
  const io = (globalThis as { plus?: { io?: PlusIo } }).plus?.io;
  return new Promise((resolve) => {
    if (io) {
      io.resolveLocalFileSystemURL(
        path,
        (entry) =>
          entry.file(
            (f) => {
              const reader = new io.FileReader();
              reader.onloadend = (e) => {
                const s = String(e.target.result ?? '');
                resolve(uni.base64ToArrayBuffer(s.slice(s.indexOf(',') + 1)));
              };
              reader.onerror = () => resolve(null);
              reader.readAsDataURL(f);
            },
            () => resolve(null),
          ),
        () => resolve(null),
      );
      return;
    }
    if (typeof u.getFileSystemManager === 'function') {
      u.getFileSystemManager().readFile({ filePath: path, success: (r) => resolve(r.data as ArrayBuffer), fail: () => resolve(null) });
      return;
    }
    resolve(null);
  });
}

/** Bytes of a kept file on any target. */
export function bytesFrom(vault: unknown): (file: LocalFile) => Promise<Blob | ArrayBuffer | null> {
  return (file) => (vault instanceof IdbFileVault ? vault.blob(file.ref) : readSavedFile(file.ref));
}

/** H5: fetch with the token, shown through a blob: URL (the server's CSP allows blob: images). */
export async function fetchDownload(url: string, headers: Record<string, string>): Promise<string | null> {
  const res = await fetch(url, { headers });
  return res.ok ? URL.createObjectURL(await res.blob()) : null;
}

/** app-plus and mini programs: uni.downloadFile to a temporary path. */
export function uniDownload(url: string, headers: Record<string, string>): Promise<string | null> {
  return new Promise((resolve) =>
    uni.downloadFile({ url, header: headers, success: (r) => resolve(r.statusCode === 200 ? r.tempFilePath : null), fail: () => resolve(null) }),
  );
}

// The REST calls the renderer makes besides sync: uploading and downloading attachments, and the
// admin screens (inboxes, canned responses, agents, teams, the OpenAPI document). The tokens come
// from core's HttpTransport, which refreshes them; nothing here stores them.
import { Attachment, TransportError } from '@goutong/core';

/** Largest file the server takes (POST /api/v1/attachments). */
export const MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024;

export interface ServerApi {
  /** The server's base URL (origin + path, no trailing slash). */
  readonly baseUrl: string;
  /** JSON request with the agent's bearer token; throws TransportError with the server's message. */
  request<T = unknown>(method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T>;
  /** Uploads one file; resolves with the server's metadata (id, sha256, signed url). */
  uploadAttachment(file: Blob, name: string, mime: string): Promise<Attachment>;
  /** The file of an attachment (bearer token), for thumbnails and downloads. */
  downloadAttachment(id: string, inline?: boolean): Promise<Blob>;
  /** An absolute URL for a server path (signed download URLs are relative). */
  absolute(path: string): string;
}

type FetchFn = (url: string, init: RequestInit) => Promise<Response>;

async function errorOf(res: Response): Promise<TransportError> {
  let message = `HTTP ${res.status}`;
  let code = 'http';
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string } };
    if (body?.error?.message) message = body.error.message;
    if (body?.error?.code) code = body.error.code;
  } catch {
    /* not JSON */
  }
  return new TransportError(res.status === 401 ? 'auth' : 'http', message, res.status, code);
}

export function createServerApi(opts: { baseUrl: string; token: () => Promise<string>; fetch?: FetchFn }): ServerApi {
  const base = opts.baseUrl.replace(/\/+$/, '');
  const doFetch: FetchFn = opts.fetch ?? ((url, init) => window.fetch(url, init));
  const send = async (url: string, init: RequestInit): Promise<Response> => {
    const token = await opts.token();
    try {
      return await doFetch(url, { ...init, headers: { ...(init.headers as Record<string, string> | undefined), authorization: `Bearer ${token}` } });
    } catch (e) {
      throw new TransportError('network', `cannot reach the server: ${(e as Error).message}`);
    }
  };
  return {
    baseUrl: base,
    absolute: (path) => (/^https?:\/\//.test(path) ? path : `${base}${path.startsWith('/') ? '' : '/'}${path}`),
    async request<T>(method: string, path: string, body?: unknown): Promise<T> {
      const res = await send(`${base}${path}`, {
        method,
        ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
      });
      if (!res.ok) throw await errorOf(res);
      if (res.status === 204) return undefined as T;
      return (await res.json()) as T;
    },
    async uploadAttachment(file, name, mime) {
      if (file.size > MAX_ATTACHMENT_BYTES) throw new TransportError('http', `${name} is larger than 25 MiB`, 413, 'too_large');
      const res = await send(`${base}/api/v1/attachments?name=${encodeURIComponent(name)}`, {
        method: 'POST',
        headers: { 'content-type': mime || 'application/octet-stream' },
        body: file,
      });
      if (!res.ok) throw await errorOf(res);
      const parsed = Attachment.safeParse(await res.json());
      if (!parsed.success) throw new TransportError('protocol', `unexpected upload answer: ${parsed.error.message.slice(0, 200)}`);
      return parsed.data;
    },
    async downloadAttachment(id, inline = false) {
      const res = await send(`${base}/api/v1/attachments/${encodeURIComponent(id)}${inline ? '?inline=1' : ''}`, { method: 'GET' });
      if (!res.ok) throw await errorOf(res);
      return res.blob();
    },
  };
}

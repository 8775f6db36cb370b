import type { Command } from '../commands/commands.js';
import {
  CommandBatchResponse,
  MessagePage,
  PROTOCOL_HEADER,
  PROTOCOL_VERSION,
  PullResponse,
  TokenResponse,
  MfaRequiredResponse,
  type PullRequest,
} from '../protocol/wire.js';
import { ProtocolMismatchError, TransportError, type SocketHandlers, type SocketOptions, type SyncSocket, type Transport } from '../ports/transport.js';
import type { z } from 'zod';
import type { SearchPage } from '../domain/search.js';

/** The subset of `fetch` the transport needs (browsers, Node 18+, uni-app polyfills). */
export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string },
) => Promise<{ status: number; ok: boolean; text(): Promise<string> }>;

/** The subset of the WebSocket API the transport needs. */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}
export type WebSocketFactory = (url: string) => WebSocketLike;

export interface Session {
  accessToken: string;
  refreshToken: string;
  /** Device time (ms) when the access token expires. */
  expiresAt: number;
}

export interface HttpTransportOptions {
  baseUrl: string;
  fetch: FetchLike;
  webSocket: WebSocketFactory;
  session: Session;
  now: () => number;
  /** Called whenever tokens were refreshed, so the host can persist them (safeStorage, uni storage…). */
  onSession?: (session: Session) => void;
  /** Called when the refresh token is no longer accepted: the user must log in again. */
  onSessionExpired?: () => void;
}

async function readJson(res: { text(): Promise<string> }): Promise<unknown> {
  const text = await res.text();
  if (!text) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new TransportError('protocol', 'server answered with invalid JSON');
  }
}

/** Sent with every request: the server refuses another major version with 426 (see PROTOCOL.md). */
const VERSION_HEADERS: Record<string, string> = { [PROTOCOL_HEADER]: String(PROTOCOL_VERSION) };

function errorFrom(status: number, body: unknown): TransportError {
  const err = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  // [accounts] A 401 whose details say `wipe`: the device must erase its local data.
  const wipe = status === 401 && (err as { details?: { wipe?: unknown } } | undefined)?.details?.wipe === true;
  const code = wipe ? 'wipe' : typeof err?.code === 'string' ? err.code : `http_${status}`;
  const message = typeof err?.message === 'string' ? err.message : `HTTP ${status}`;
  if (status === 426) return new ProtocolMismatchError(message);
  return new TransportError(status === 401 ? 'auth' : 'http', message, status, code);
}

/** [accounts] The password was right and the account has two-factor sign-in: finish with loginWithCode. */
export class MfaRequiredError extends Error {
  override readonly name = 'MfaRequiredError';
  constructor(readonly mfaToken: string) {
    super('a two-factor code is required');
  }
}

async function postAuth(opts: { baseUrl: string; fetch: FetchLike; now: () => number }, path: string, payload: unknown): Promise<Session> {
  let res;
  try {
    res = await opts.fetch(`${opts.baseUrl.replace(/\/$/, '')}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...VERSION_HEADERS },
      body: JSON.stringify(payload),
    });
  } catch (e) {
    throw new TransportError('network', `cannot reach the server: ${(e as Error).message}`);
  }
  const body = await readJson(res);
  if (!res.ok) throw errorFrom(res.status, body);
  const mfa = MfaRequiredResponse.safeParse(body);
  if (mfa.success) throw new MfaRequiredError(mfa.data.mfaToken);
  const t = TokenResponse.parse(body);
  return { accessToken: t.accessToken, refreshToken: t.refreshToken, expiresAt: opts.now() + t.expiresIn * 1000 };
}

/**
 * Logs in with email and password; returns a session for HttpTransport. An account with two-factor
 * sign-in answers with MfaRequiredError (then loginWithCode). `device` names the device in the
 * agent's sessions list.
 */
export async function login(
  opts: { baseUrl: string; fetch: FetchLike; now: () => number },
  email: string,
  password: string,
  device?: { deviceName?: string; platform?: string },
): Promise<Session> {
  return postAuth(opts, '/api/v1/auth/login', { email, password, ...(device ?? {}) });
}

/** [accounts] The second step of a two-factor login: a code from the authenticator app or a recovery code. */
export async function loginWithCode(opts: { baseUrl: string; fetch: FetchLike; now: () => number }, mfaToken: string, code: string): Promise<Session> {
  return postAuth(opts, '/api/v1/auth/mfa', { mfaToken, code });
}

/** The real transport: REST under /api/v1 and the /sync WebSocket, with token refresh. */
export class HttpTransport implements Transport {
  private session: Session;
  private refreshing: Promise<void> | null = null;
  private readonly base: string;

  constructor(private readonly opts: HttpTransportOptions) {
    this.session = opts.session;
    this.base = opts.baseUrl.replace(/\/$/, '');
  }

  get currentSession(): Session {
    return this.session;
  }

  async logout(): Promise<void> {
    await this.request('POST', '/api/v1/auth/logout', { refreshToken: this.session.refreshToken }, null).catch(() => undefined);
  }

  pull(request: PullRequest): Promise<z.infer<typeof PullResponse>> {
    return this.request('POST', '/api/v1/sync/pull', request, PullResponse);
  }

  push(commands: readonly Command[]): Promise<z.infer<typeof CommandBatchResponse>> {
    return this.request('POST', '/api/v1/commands', { commands }, CommandBatchResponse);
  }

  /** [search] The server's full-text search in the agent's scope. */
  async search(text: string, cursor: string | null, limit: number): Promise<SearchPage> {
    const q = new URLSearchParamsLite({ q: text, limit: String(limit), ...(cursor ? { cursor } : {}) });
    const { SearchPage } = await import('../domain/search.js'); // loaded when first used (not on the first screen)
    return this.request('GET', `/api/v1/search?${q}`, undefined, SearchPage);
  }

  messages(conversationId: string, cursor: string | null, limit: number): Promise<z.infer<typeof MessagePage>> {
    const q = new URLSearchParamsLite({ limit: String(limit), ...(cursor ? { cursor } : {}) });
    return this.request('GET', `/api/v1/conversations/${encodeURIComponent(conversationId)}/messages?${q}`, undefined, MessagePage);
  }

  openSocket(handlers: SocketHandlers, options: SocketOptions = {}): SyncSocket {
    const wsUrl = `${this.base.replace(/^http/, 'ws')}/sync`;
    const ws = this.opts.webSocket(wsUrl);
    ws.binaryType = 'arraybuffer';
    let closed = false;
    ws.onopen = () => {
      void this.freshToken().then(
        (token) => {
          if (closed) return;
          ws.send(JSON.stringify({ t: 'auth', token, v: PROTOCOL_VERSION, ...(options.push ? { push: true } : {}) }));
          handlers.onOpen();
        },
        () => ws.close(4401, 'no valid session'),
      );
    };
    ws.onmessage = (ev) => {
      const d = ev.data;
      if (typeof d === 'string') handlers.onText(d);
      else if (d instanceof ArrayBuffer) handlers.onBinary(new Uint8Array(d));
      else if (d instanceof Uint8Array) handlers.onBinary(d);
    };
    ws.onclose = (ev) => {
      if (closed) return;
      closed = true;
      handlers.onClose(ev.code, ev.reason);
    };
    ws.onerror = () => {
      /* onclose follows */
    };
    return {
      send: (data) => {
        if (ws.readyState === 1) ws.send(data);
      },
      close: () => {
        if (closed) return;
        closed = true;
        try {
          ws.close(1000, 'client closed');
        } catch {
          /* already closing */
        }
        handlers.onClose(1000, 'client closed');
      },
    };
  }

  /** An access token valid for at least 30 more seconds (refreshing it if needed). */
  async freshToken(): Promise<string> {
    if (this.session.expiresAt - this.opts.now() < 30_000) await this.refresh();
    return this.session.accessToken;
  }

  private async refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      try {
        let res;
        try {
          res = await this.opts.fetch(`${this.base}/api/v1/auth/refresh`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...VERSION_HEADERS },
            body: JSON.stringify({ refreshToken: this.session.refreshToken }),
          });
        } catch (e) {
          throw new TransportError('network', `cannot reach the server: ${(e as Error).message}`);
        }
        const body = await readJson(res);
        if (!res.ok) {
          const err = errorFrom(res.status, body);
          if (res.status === 401) this.opts.onSessionExpired?.();
          throw err;
        }
        const t = TokenResponse.parse(body);
        this.session = { accessToken: t.accessToken, refreshToken: t.refreshToken, expiresAt: this.opts.now() + t.expiresIn * 1000 };
        this.opts.onSession?.(this.session);
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  private async request<T>(method: string, path: string, body: unknown, schema: z.ZodType<T> | null, retried = false): Promise<T> {
    const token = await this.freshToken();
    let res;
    try {
      res = await this.opts.fetch(`${this.base}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...VERSION_HEADERS, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (e) {
      throw new TransportError('network', `cannot reach the server: ${(e as Error).message}`);
    }
    const json = await readJson(res);
    if (res.status === 401 && !retried) {
      await this.refresh();
      return this.request(method, path, body, schema, true);
    }
    if (!res.ok) throw errorFrom(res.status, json);
    if (!schema) return undefined as T;
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw new TransportError('protocol', `unexpected response from ${path}: ${parsed.error.message.slice(0, 300)}`);
    return parsed.data;
  }
}

/** URLSearchParams is not in core's ES2022 lib; this is the tiny part we need. */
class URLSearchParamsLite {
  constructor(private readonly params: Record<string, string>) {}
  toString(): string {
    return Object.entries(this.params)
      .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
      .join('&');
  }
}

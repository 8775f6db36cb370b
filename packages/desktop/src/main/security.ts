// Navigation and new windows are denied by default; http(s) and mailto links open in the system
// browser. Permission requests (camera, geolocation…) are denied except notifications and the
// softphone's microphone (audio only).
import type { Session, Shell, WebContents } from 'electron';
import { APP_ORIGIN } from '../shared/ipc';

export function isExternalLink(url: string): boolean {
  return /^(https?:|mailto:)/i.test(url);
}

export function isAppUrl(url: string, origin = APP_ORIGIN): boolean {
  return url === origin || url.startsWith(`${origin}/`);
}

export function hardenWebContents(contents: Pick<WebContents, 'on' | 'setWindowOpenHandler'>, shell: Pick<Shell, 'openExternal'>, origin = APP_ORIGIN): void {
  contents.setWindowOpenHandler(({ url }) => {
    if (isExternalLink(url)) void shell.openExternal(url);
    return { action: 'deny' };
  });
  contents.on('will-navigate', (event, url) => {
    if (isAppUrl(url, origin)) return;
    event.preventDefault();
    if (isExternalLink(url)) void shell.openExternal(url);
  });
  contents.on('will-redirect', (event, url) => {
    if (!isAppUrl(url, origin)) event.preventDefault();
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
}

export const ALLOWED_PERMISSIONS = new Set(['notifications', 'clipboard-sanitized-write']);

/** The softphone's microphone: `media` for audio only (never the camera), and choosing the speaker. */
function allowedMedia(permission: string, details: unknown): boolean {
  if (permission === 'speaker-selection') return true;
  if (permission !== 'media') return false;
  const types = (details as { mediaTypes?: string[]; mediaType?: string } | undefined) ?? {};
  const asked = types.mediaTypes ?? (types.mediaType ? [types.mediaType] : []);
  return asked.length > 0 && asked.every((t) => t === 'audio');
}

export function restrictPermissions(session: Pick<Session, 'setPermissionRequestHandler' | 'setPermissionCheckHandler'>, origin = APP_ORIGIN): void {
  session.setPermissionRequestHandler((contents, permission, callback, details) =>
    callback((ALLOWED_PERMISSIONS.has(permission) || allowedMedia(permission, details)) && isAppUrl(contents.getURL(), origin)),
  );
  session.setPermissionCheckHandler((_contents, permission, requestingOrigin, details) => (ALLOWED_PERMISSIONS.has(permission) || allowedMedia(permission, details)) && requestingOrigin === origin);
}

/**
 * The renderer (app://goutong) calls the configured server over HTTP: the server does not send
 * CORS headers, so main adds them to that server's responses only.
 */
export function allowServerCors(session: Pick<Session, 'webRequest'>, serverOrigin: () => string | null, origin = APP_ORIGIN): void {
  session.webRequest.onHeadersReceived((details, callback) => {
    const server = serverOrigin();
    let sameServer = false;
    try {
      sameServer = !!server && new URL(details.url).origin === server;
    } catch {
      sameServer = false;
    }
    if (!sameServer) return callback({});
    const headers = { ...(details.responseHeaders ?? {}) };
    headers['Access-Control-Allow-Origin'] = [origin];
    headers['Access-Control-Allow-Headers'] = ['authorization, content-type, idempotency-key, goutong-protocol'];
    headers['Access-Control-Allow-Methods'] = ['GET, POST, PATCH, DELETE, OPTIONS'];
    callback({ responseHeaders: headers, ...(details.method === 'OPTIONS' ? { statusLine: 'HTTP/1.1 204 No Content' } : {}) });
  });
}

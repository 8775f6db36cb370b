// How attachments are shown: which load as inline thumbnails, sizes in the agent's language, and
// where their bytes come from (memory, the device's vault, the server).
import type { Attachment } from '@goutong/core';
import { LOCAL_ATTACHMENT_PREFIX } from './uploads';
import type { FileVault } from './vault';
import type { ServerApi } from '../platform/serverApi';
import { loadUrl } from './blobCache';

/** Types the server shows inline and a browser renders safely as <img> (no SVG). */
export function isThumbnailable(mime: string): boolean {
  return /^image\/(png|jpeg|gif|webp)$/.test(mime);
}

/** Audio the workspace plays inline (voicemail, call recordings). */
export function isPlayableAudio(mime: string): boolean {
  return /^audio\/(webm|ogg|mpeg|mp4|wav|x-wav|aac|opus)$/.test(mime);
}

export function fileSize(bytes: number, locale: string): string {
  const fmt = (n: number, unit: string) => `${new Intl.NumberFormat(locale, { maximumFractionDigits: n < 10 ? 1 : 0 }).format(n)} ${unit}`;
  if (bytes < 1024) return fmt(bytes, 'B');
  if (bytes < 1024 * 1024) return fmt(bytes / 1024, 'KB');
  return fmt(bytes / (1024 * 1024), 'MB');
}

/** A signed URL (relative, `?exp=<unix seconds>&sig=…`) still valid for a minute, else null. */
export function validSignedUrl(url: string | undefined, nowMs = Date.now()): string | null {
  if (!url) return null;
  const m = /[?&]exp=(\d+)/.exec(url);
  if (!m || Number(m[1]) * 1000 - nowMs < 60_000) return null;
  return url;
}

/**
 * An object URL with the attachment's bytes: a file still waiting to upload comes from the vault,
 * one on the server is downloaded once with the agent's token (thumbnails, downloads in Electron,
 * whose CSP only lets the page show images it holds).
 */
export function attachmentObjectUrl(a: Pick<Attachment, 'id'>, deps: { vault: FileVault | null; api: ServerApi | undefined }, inline = true): Promise<string | null> {
  if (a.id.startsWith(LOCAL_ATTACHMENT_PREFIX)) {
    const ref = a.id.slice(LOCAL_ATTACHMENT_PREFIX.length);
    return loadUrl(a.id, async () => (await deps.vault?.get(ref))?.blob ?? null);
  }
  const api = deps.api;
  if (!api) return Promise.resolve(null);
  return loadUrl(a.id, () => api.downloadAttachment(a.id, inline));
}

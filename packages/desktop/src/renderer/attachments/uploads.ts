// The desktop's side of core's upload queue (core/src/client/uploads.ts): replies with attachments
// and call recordings wait on the device until their files are uploaded, then go into the outbox.
// The queue itself (lanes, fixed command ids, backoff, failed entries) is core's; the desktop
// brings where the files wait (IndexedDB, vault.ts) and the upload (`POST /api/v1/attachments`).
import { LOCAL_ATTACHMENT_PREFIX, TransportError, UPLOAD_QUEUE_META_KEY, type Attachment, type LocalStore, type UploadPorts } from '@goutong/core';
import type { FileVault } from './vault';
import type { ServerApi } from '../platform/serverApi';

export { LOCAL_ATTACHMENT_PREFIX };

/** A file the agent picked in the composer (or a call's recording). */
export interface PickedFile {
  blob: Blob;
  name: string;
  mime: string;
  size: number;
}

/** The picked files as core's queue takes them (the bytes go to the vault). */
export const toUploadFiles = (files: readonly PickedFile[]) => files.map((f) => ({ name: f.name, mime: f.mime || 'application/octet-stream', size: f.size, data: f.blob }));

export function desktopUploadPorts(o: {
  vault: () => FileVault;
  api: () => Pick<ServerApi, 'uploadAttachment'> | undefined;
  /** Whether the server is reachable (the sync connection is up). */
  isOnline?: () => boolean;
  /** A file reached the server (the blob cache keeps its bytes for thumbnails). */
  onUploaded?: (attachment: Attachment, blob: Blob) => void;
}): UploadPorts<Blob> {
  return {
    vault: {
      put: (ref, info, blob) => o.vault().put({ ...info, ref, blob }),
      get: async (ref) => (await o.vault().get(ref))?.blob ?? null,
      remove: (ref) => o.vault().remove(ref),
    },
    upload: (file, blob) => {
      const api = o.api();
      return api ? api.uploadAttachment(blob, file.name, file.mime) : Promise.reject(new TransportError('network', 'no server connection'));
    },
    ...(o.isOnline ? { isOnline: o.isOnline } : {}),
    ...(o.onUploaded ? { onUploaded: (a: Attachment, _f: unknown, blob: Blob) => o.onUploaded!(a, blob) } : {}),
  };
}

/** Moves a queue saved by the desktop's own upload queue (in the vault's database) into the local store, once. */
export async function migrateLegacyQueue(vault: FileVault, store: Pick<LocalStore, 'getMeta' | 'setMeta'>): Promise<void> {
  const legacy = await vault.takeLegacyQueue().catch(() => []);
  if (legacy.length === 0) return;
  const current = (await store.getMeta<unknown[]>(UPLOAD_QUEUE_META_KEY)) ?? [];
  await store.setMeta(UPLOAD_QUEUE_META_KEY, [...legacy, ...current]);
}

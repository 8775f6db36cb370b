// The app's side of core's upload queue (core/src/client/uploads.ts): replies with photos taken in
// a basement wait on the device until their files are uploaded, then go into the outbox. The
// queue itself (lanes, fixed command ids, backoff, failed entries) is core's; the app brings where
// the files wait (uni's saved files, IndexedDB on H5: kept when picked, so the queue only reads and
// removes them) and the upload (`POST /api/v1/attachments?name=` through uni or fetch).
import type { UploadPorts } from '@goutong/core';
import type { FileVault, ServerApi } from '../app/services';

/** Where the queue's entries are kept in the local store's meta (unchanged since the app's own queue). */
export const QUEUE_META_KEY = 'mobile.attachmentQueue';

export function mobileUploadPorts(files: Pick<FileVault, 'remove'>, api: Pick<ServerApi, 'uploadAttachment'>): UploadPorts<true> {
  return {
    metaKey: QUEUE_META_KEY,
    vault: {
      // Picked files are kept in the vault before the reply is sent (the composer shows them).
      put: async () => undefined,
      // The upload reads the file by its ref and fails for good when it is gone.
      get: async () => true,
      remove: (ref) => files.remove(ref),
    },
    upload: (file) => api.uploadAttachment({ ref: file.ref, name: file.name, mime: file.mime, size: file.size }),
  };
}

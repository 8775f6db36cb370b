import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Attachment } from '@goutong/core';
import type { Db } from '../db/db.js';
import { hmacHex, safeEqual } from '../auth/crypto.js';
import { attachmentRow, insertAttachment, type AttachmentRow } from '../domain/attachments.js';

export const MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024;
const URL_TTL_S = 24 * 3600;

/** Names are shown to people and used in downloads: keep them printable and short. */
export function cleanFileName(name: string): string {
  // eslint-disable-next-line no-control-regex -- stripping control characters is the point
  const base = name.replace(/[\\/]/g, '_').replace(/[\u0000-\u001f\u007f]/g, '').trim().slice(0, 255);
  return base || 'attachment';
}

export function cleanMime(mime: string | undefined): string {
  const m = (mime ?? '').split(';')[0]!.trim().toLowerCase();
  return /^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*$/.test(m) ? m : 'application/octet-stream';
}

/**
 * Content-addressed attachment store: bytes live once per hash under the data directory
 * (`attachments/ab/cd/<sha256>`), rows give each upload its id, name and type per tenant.
 * Download URLs are signed (HMAC over tenant, attachment and expiry; 24 h), so `<img>` and `<audio>`
 * can load them without a header. Rows bind an attachment to its message (`message_id`): who may
 * download it follows from that message's conversation (see routes.ts).
 */
export class AttachmentStore {
  readonly root: string;
  constructor(private readonly db: Db, dataDir: string, private readonly secret: string, private readonly ids: { next(): string }) {
    this.root = path.join(dataDir, 'attachments');
    fs.mkdirSync(this.root, { recursive: true });
  }

  private fileOf(sha256: string): string {
    return path.join(this.root, sha256.slice(0, 2), sha256.slice(2, 4), sha256);
  }

  /** Writes the bytes under their hash (idempotent); returns the hash. */
  private storeBytes(bytes: Buffer): string {
    if (bytes.length > MAX_ATTACHMENT_BYTES) throw new Error(`attachment exceeds ${MAX_ATTACHMENT_BYTES} bytes`);
    const sha256 = crypto.createHash('sha256').update(bytes).digest('hex');
    const file = this.fileOf(sha256);
    if (!fs.existsSync(file)) {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      // Write then rename: a crash never leaves a half-written file under the hash name.
      const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
      const fd = fs.openSync(tmp, 'w');
      try {
        fs.writeSync(fd, bytes);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, file);
    }
    return sha256;
  }

  /**
   * Stores the bytes of an inbound file and returns its metadata without writing its row: the row is
   * inserted, bound to its message, in the inbound's own transaction (InboundInput.stagedAttachments).
   * A crash in between leaves only an unreferenced content-addressed file.
   */
  stage(tenantId: string, bytes: Buffer, meta: { name: string; mime?: string }): Attachment & { sha256: string; url: string } {
    const sha256 = this.storeBytes(bytes);
    const id = this.ids.next();
    return { id, name: cleanFileName(meta.name), mime: cleanMime(meta.mime), size: bytes.length, sha256, url: this.signedUrl(id, tenantId) };
  }

  async put(tenantId: string, bytes: Buffer, meta: { name: string; mime?: string; createdBy?: string | null; messageId?: string | null }): Promise<Attachment> {
    const sha256 = this.storeBytes(bytes);
    const id = this.ids.next();
    const name = cleanFileName(meta.name);
    const mime = cleanMime(meta.mime);
    await insertAttachment(this.db, { id, tenantId, sha256, name, mime, size: bytes.length, createdBy: meta.createdBy ?? null, messageId: meta.messageId ?? null, createdAt: Date.now() });
    return { id, name, mime, size: bytes.length, sha256, url: this.signedUrl(id, tenantId) };
  }

  /** The row of an attachment whatever its tenant (a signed URL names no tenant; its signature does). */
  rowById(id: string): Promise<AttachmentRow | null> {
    return attachmentRow(this.db, id);
  }

  /** The row of an attachment of this tenant (null for another tenant's). */
  async row(tenantId: string, id: string): Promise<AttachmentRow | null> {
    const r = await attachmentRow(this.db, id);
    return r && r.tenant_id === tenantId ? r : null;
  }

  async get(tenantId: string, id: string): Promise<{ attachment: Attachment; row: AttachmentRow; file: string } | null> {
    const r = await this.row(tenantId, id);
    if (!r) return null;
    const file = this.fileOf(r.sha256);
    if (!fs.existsSync(file)) return null;
    return { attachment: { id: r.id, name: r.name, mime: r.mime, size: r.size, sha256: r.sha256, url: this.signedUrl(r.id, r.tenant_id) }, row: r, file };
  }

  async bytes(tenantId: string, id: string): Promise<Buffer | null> {
    const a = await this.get(tenantId, id);
    return a ? fs.readFileSync(a.file) : null;
  }

  /** [accounts] Removes the bytes of hashes no row names any more (erasure, retention); the caller checked the rows. */
  removeBlobs(shas: readonly string[]): void {
    for (const sha of shas) {
      if (!/^[0-9a-f]{64}$/.test(sha)) continue;
      fs.rmSync(this.fileOf(sha), { force: true });
    }
  }

  signedUrl(id: string, tenantId: string, nowS = Math.floor(Date.now() / 1000)): string {
    // Rounded to the hour so the same attachment keeps one URL for a while (cache friendly).
    const exp = (Math.floor(nowS / 3600) + 1) * 3600 + URL_TTL_S;
    return `/api/v1/attachments/${id}?exp=${exp}&sig=${this.sign(tenantId, id, exp)}`;
  }

  /** A signed URL is good for that tenant's attachment until it expires (and never longer than the TTL ahead). */
  verify(tenantId: string, id: string, exp: string | undefined, sig: string | undefined, nowS = Math.floor(Date.now() / 1000)): boolean {
    if (!exp || !sig || !/^\d{1,12}$/.test(exp)) return false;
    const e = Number(exp);
    if (e < nowS || e > nowS + URL_TTL_S + 3600) return false;
    return safeEqual(this.sign(tenantId, id, e), sig);
  }

  private sign(tenantId: string, id: string, exp: number): string {
    return hmacHex(this.secret, `attachment:v2:${tenantId}:${id}:${exp}`).slice(0, 32);
  }
}

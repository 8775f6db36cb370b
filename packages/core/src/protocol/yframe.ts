import * as encoding from 'lib0/encoding';
import * as decoding from 'lib0/decoding';

/**
 * Binary frames on the sync socket multiplex Yjs documents:
 *   varString(docName) · varUint(kind) · payload
 * kind 0 carries a y-protocols sync message, kind 1 an awareness update.
 */
export const FRAME_SYNC = 0;
export const FRAME_AWARENESS = 1;
export type FrameKind = typeof FRAME_SYNC | typeof FRAME_AWARENESS;

export interface YFrame {
  doc: string;
  kind: FrameKind;
  payload: Uint8Array;
}

export function encodeFrame(doc: string, kind: FrameKind, payload: Uint8Array): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarString(e, doc);
  encoding.writeVarUint(e, kind);
  encoding.writeUint8Array(e, payload);
  return encoding.toUint8Array(e);
}

export class FrameError extends Error {
  override readonly name = 'FrameError';
}

/** Decodes a frame; throws FrameError on malformed input (never loops, never over-reads). */
export function decodeFrame(data: Uint8Array): YFrame {
  try {
    const d = decoding.createDecoder(data);
    const doc = decoding.readVarString(d);
    const kind = decoding.readVarUint(d);
    if (kind !== FRAME_SYNC && kind !== FRAME_AWARENESS) throw new FrameError(`unknown frame kind ${kind}`);
    if (doc.length === 0 || doc.length > 200) throw new FrameError('bad document name');
    const payload = data.subarray(d.pos);
    if (payload.length === 0) throw new FrameError('empty payload');
    return { doc, kind, payload };
  } catch (e) {
    if (e instanceof FrameError) throw e;
    throw new FrameError(`malformed frame: ${(e as Error).message}`);
  }
}

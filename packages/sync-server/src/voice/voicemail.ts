import { TranscriptionSettings } from './config.js';
import type { Inbox } from '@goutong/core';
import type { ProviderDeps } from '../channels/provider.js';
import type { AttachmentStore } from '../attachments/store.js';
import { findInbound } from '../domain/channelFacts.js';
import { Transcriptions } from '../domain/transcriptions.js';
import { sha256Hex } from '../auth/crypto.js';

const EXT: Record<string, string> = { 'audio/wav': 'wav', 'audio/x-wav': 'wav', 'audio/wave': 'wav', 'audio/mpeg': 'mp3', 'audio/ogg': 'ogg', 'audio/webm': 'webm', 'audio/mp4': 'm4a', 'audio/aac': 'aac', 'audio/amr': 'amr' };

function clock(secs: number): string {
  return `${Math.floor(secs / 60)}:${String(secs % 60).padStart(2, '0')}`;
}

export interface VoicemailInput {
  from: string;
  name?: string | undefined;
  to?: string | undefined;
  callId?: string | undefined;
  durationSeconds?: number | undefined;
  meta?: Record<string, unknown>;
}

/**
 * The voicemail path (the upload route and the server's own IVR endpoint): the recording staged,
 * then an inbound message of kind `voice` from the caller with the audio attached; a second store
 * of the same call is a duplicate. A new voicemail gets a transcription job (hook `afterVoicemail`).
 */
export async function storeVoicemail(
  deps: ProviderDeps,
  inbox: Inbox,
  q: VoicemailInput,
  bytes: Buffer,
  mime: string,
): Promise<{ duplicate: boolean; conversationId: string; messageId: string; attachment: ReturnType<AttachmentStore['stage']> | null }> {
  const externalId = `voicemail:${q.callId ?? sha256Hex(bytes)}`;
  const seen = await findInbound(deps.workspace.db, inbox.id, externalId);
  if (seen) return { duplicate: true, conversationId: seen.conversationId, messageId: seen.id, attachment: null };
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  // The bytes first; the attachment row is written bound to the message in the inbound's transaction.
  const attachment = deps.attachments.stage(inbox.tenantId, bytes, { name: `voicemail-${q.from.replace(/[^0-9A-Za-z+]/g, '')}-${stamp}.${EXT[mime] ?? 'audio'}`, mime });
  const res = await deps.ingest(inbox, {
    externalId,
    from: { identifier: q.from, ...(q.name ? { name: q.name } : {}) },
    text: q.durationSeconds !== undefined ? `Voicemail · ${clock(q.durationSeconds)}` : 'Voicemail',
    kind: 'voice',
    stagedAttachments: [{ id: attachment.id, name: attachment.name, mime: attachment.mime, size: attachment.size, sha256: attachment.sha256 }],
    meta: {
      voicemail: { ...(q.callId ? { callId: q.callId } : {}), ...(q.to ? { to: q.to } : {}), ...(q.durationSeconds !== undefined ? { durationSeconds: q.durationSeconds } : {}) },
      ...(q.meta ?? {}),
    },
  });
  if (!res.duplicate) await enqueueTranscription(deps, inbox, res.message.id, attachment.id);
  return { duplicate: res.duplicate, conversationId: res.conversation.id, messageId: res.message.id, attachment };
}


/** After a voicemail or recording was stored: its transcription job and `pending` transcript (when the inbox transcribes). */
export async function enqueueTranscription(deps: ProviderDeps, inbox: Inbox, messageId: string, attachmentId: string): Promise<boolean> {
  const s = await deps.inboxSettings(inbox.id);
  const t = TranscriptionSettings.safeParse(s?.config['transcription'] ?? {});
  if (!t.success || t.data.provider === 'none') return false;
  return new Transcriptions(deps.workspace.db, deps.workspace).enqueue({ tenantId: inbox.tenantId, inboxId: inbox.id, messageId, attachmentId, provider: t.data.provider, language: t.data.language });
}

import type { Message } from '@goutong/core';
import type { ProviderDeps } from '../channels/provider.js';
import { callMessagesWithoutTranscription } from '../domain/callRecordings.js';
import { enqueueTranscription } from './voicemail.js';

/** How far back the first scan after a start looks for call recordings without a transcription job. */
const CATCH_UP_MS = 3 * 24 * 3600_000;

/** The recording of a softphone call message: its first audio attachment. */
export function recordingOf(m: Pick<Message, 'kind' | 'attachments'>): string | null {
  if (m.kind !== 'call') return null;
  return m.attachments.find((a) => a.mime.toLowerCase().startsWith('audio/'))?.id ?? null;
}

/**
 * Transcription of softphone call recordings: a call message (`log_call`) with its recording
 * attached gets a transcription job once it is committed (when its voice inbox transcribes), the
 * same job voicemail gets (`Transcriptions`, the voice service's worker). The call record is
 * committed first and never waits for this; a job that cannot be made now (the database busy) is
 * made by the next scan. Idempotent: a message has at most one job, and a repeated scan finds
 * only messages without one.
 */
export function watchCallRecordings(deps: ProviderDeps, o: { now?: () => number } = {}): { stop(): void; scan(tenantId?: string): Promise<number> } {
  const now = o.now ?? Date.now;
  const db = deps.workspace.db;
  let chain: Promise<unknown> = Promise.resolve();
  let stopped = false;

  const enqueueRows = async (rows: Array<{ message: Message; inboxId: string }>): Promise<number> => {
    let n = 0;
    for (const { message, inboxId } of rows) {
      const attachmentId = recordingOf(message);
      if (!attachmentId) continue;
      const s = await deps.inboxSettings(inboxId);
      if (!s || s.inbox.channel !== 'voice') continue;
      if (await enqueueTranscription(deps, s.inbox, message.id, attachmentId)) n++;
    }
    return n;
  };

  /** The call messages a commit wrote. */
  const scanCommit = async (tenantId: string, seq: number): Promise<number> => enqueueRows(await callMessagesWithoutTranscription(db, { tenantId, seq }));

  /** Recent call recordings without a job (after a start, or when a commit's scan failed). */
  const catchUp = async (tenantId?: string): Promise<number> =>
    enqueueRows(await callMessagesWithoutTranscription(db, { since: now() - CATCH_UP_MS, ...(tenantId ? { tenantId } : {}) }));

  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = chain.then(fn, fn);
    chain = run.catch(() => undefined);
    return run;
  };

  const log = (e: unknown) => deps.logger.warn('voice: call recording transcription not queued (the next scan retries)', { error: String(e) });
  let failed = false;
  const off = deps.workspace.committed.on(({ tenantId, seq }) => {
    if (stopped) return;
    void serial(async () => {
      if (failed) {
        failed = false;
        await catchUp(tenantId);
      }
      await scanCommit(tenantId, seq);
    }).catch((e: unknown) => {
      failed = true;
      log(e);
    });
  });
  void serial(() => catchUp()).catch(log);

  return {
    stop() {
      stopped = true;
      off();
    },
    /** One catch-up scan now (tests, and the CLI). */
    scan: (tenantId?: string) => serial(() => catchUp(tenantId)),
  };
}

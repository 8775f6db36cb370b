// The desktop's upload ports (IndexedDB vault, REST upload) over core's upload queue; the queue's
// own behaviour is tested in core (packages/core/src/client/uploads.test.ts).
import { describe, expect, it } from 'vitest';
import { TransportError, Uuidv7Generator, type Attachment, type Command, type Intent } from '@goutong/core';
import { FakeClock, MemoryStore, createMemoryStoreData, makeConversation, outboxRecorder, seededRandom, testUploadQueue } from '@goutong/core/testing';
import { desktopUploadPorts, migrateLegacyQueue, toUploadFiles, type PickedFile } from '../../src/renderer/attachments/uploads';
import { memoryVault } from '../../src/renderer/attachments/vault';

const CONV = 'conv-1';
const file = (name: string, text = 'hello', mime = 'text/plain'): PickedFile => {
  const blob = new Blob([text], { type: mime });
  return { blob, name, mime, size: blob.size };
};

function harness(over: { vault?: ReturnType<typeof memoryVault>; data?: ReturnType<typeof createMemoryStoreData> } = {}) {
  const vault = over.vault ?? memoryVault();
  const data = over.data ?? createMemoryStoreData();
  const clock = new FakeClock({ start: 1_000 });
  const rnd = seededRandom(3);
  const ids = new Uuidv7Generator(() => 1_700_000_000_000, (n) => Uint8Array.from({ length: n }, () => Math.floor(rnd() * 256)));
  const outbox = outboxRecorder();
  const h = {
    vault,
    data,
    clock,
    online: false,
    uploads: [] as string[],
    dispatched: outbox.dispatched,
    enqueued: outbox.enqueued,
    uploadError: null as unknown,
    cached: [] as string[],
    changes: 0,
  };
  let n = 0;
  const ports = desktopUploadPorts({
    vault: () => vault,
    api: () => ({
      uploadAttachment: async (blob: Blob, name: string, mime: string) => {
        if (h.uploadError) throw h.uploadError;
        h.uploads.push(name);
        return { id: `att-${++n}`, name, mime, size: blob.size, sha256: 'a'.repeat(64), url: `/api/v1/attachments/att-${n}?exp=1&sig=x` } satisfies Attachment;
      },
    }),
    isOnline: () => h.online,
    onUploaded: (a) => void h.cached.push(a.id),
  });
  const q = testUploadQueue(ports, { data, clock, ids, outbox });
  q.changed.on(() => void h.changes++);
  const submit = (intent: Intent, files: PickedFile[] = []) => q.submit(intent, toUploadFiles(files));
  const timerDelay = () => (clock.nextDue() ?? Infinity) - clock.now();
  return { q, h, submit, timerDelay };
}

describe('upload queue (replies with attachments, offline first)', () => {
  it('sends actions without files straight to the outbox when nothing waits', async () => {
    const { q, h, submit } = harness();
    const r = await submit({ type: 'set_status', conversationId: CONV, status: 'resolved' });
    expect(r).toEqual({ id: 'direct-1', queued: false });
    expect(h.dispatched).toHaveLength(1);
    expect(q.counts().pending).toBe(0);
  });

  it('offline: keeps the files and the reply, queues later actions of the conversation behind it, then sends them in order once', async () => {
    const { q, h, submit } = harness();
    const r = await submit({ type: 'send_reply', conversationId: CONV, text: 'see attached' }, [file('a.txt'), file('photo.png', 'png', 'image/png')]);
    expect(r.queued).toBe(true);
    const resolve = await submit({ type: 'set_status', conversationId: CONV, status: 'resolved' });
    expect(resolve.queued).toBe(true);
    const other = await submit({ type: 'add_note', conversationId: 'conv-2', text: 'elsewhere' });
    expect(other.queued).toBe(false);
    await q.idle();
    expect(h.uploads).toEqual([]);
    expect(q.counts().pending).toBe(2);
    expect(h.vault.files.size).toBe(2);

    // The timeline shows the reply waiting, with the local files; the conversation already resolved.
    const [pending] = q.pendingMessages(CONV, { id: 'me', tenantId: 't' });
    expect(pending!.id).toBe(r.id);
    expect(pending!.status).toBe('queued');
    expect((pending!.meta as { upload: { state: string } }).upload.state).toBe('waiting');
    expect(pending!.attachments.map((a) => a.id.startsWith('local:'))).toEqual([true, true]);
    expect(q.overlay(makeConversation({ id: CONV, status: 'open' }), { id: 'me' }).status).toBe('resolved');

    h.online = true;
    q.kick();
    await q.idle();
    expect(h.uploads).toEqual(['a.txt', 'photo.png']);
    expect(h.enqueued.map((c) => c.type)).toEqual(['send_reply', 'set_status']);
    const reply = h.enqueued[0] as Extract<Command, { type: 'send_reply' }>;
    expect(reply.id).toBe(r.id);
    expect(reply.attachments).toEqual([
      { id: 'att-1', name: 'a.txt', mime: 'text/plain', size: 5, sha256: 'a'.repeat(64) },
      { id: 'att-2', name: 'photo.png', mime: 'image/png', size: 3, sha256: 'a'.repeat(64) },
    ]);
    expect(h.enqueued[1]!.id).toBe(resolve.id);
    expect(q.counts().pending).toBe(0);
    expect(h.vault.files.size).toBe(0);
    expect(await new MemoryStore({ data: h.data }).getMeta('uploads.queue')).toEqual([]);
    expect(h.cached).toEqual(['att-1', 'att-2']);

    // Nothing waits any more: the next action goes straight to the outbox.
    await submit({ type: 'set_status', conversationId: CONV, status: 'open' });
    expect(h.dispatched.map((d) => d.type)).toEqual(['add_note', 'set_status']);
  });

  it('survives a restart: the queue and the files come back from the vault and are sent once', async () => {
    const first = harness();
    const r = await first.submit({ type: 'send_reply', conversationId: CONV, text: '' }, [file('a.txt')]);
    await first.q.idle();
    first.q.stop();
    // A restart while the upload was running: the state was saved as uploading.
    const store = new MemoryStore({ data: first.h.data });
    const saved = (await store.getMeta<Array<{ state: string }>>('uploads.queue'))!;
    await store.setMeta('uploads.queue', saved.map((e) => ({ ...e, state: 'uploading' })));

    const second = harness({ vault: first.h.vault, data: first.h.data });
    await second.q.load();
    expect(second.q.list()[0]).toMatchObject({ id: r.id, state: 'waiting' });
    second.h.online = true;
    second.q.kick();
    await second.q.idle();
    expect(second.h.enqueued).toHaveLength(1);
    expect(second.h.enqueued[0]!.id).toBe(r.id);
    expect(second.h.uploads).toEqual(['a.txt']);
  });

  it('backs off on network trouble and stops on a rejection with the reason; retry and discard', async () => {
    const { q, h, submit, timerDelay } = harness();
    h.online = true;
    h.uploadError = new TransportError('network', 'cannot reach the server');
    const r = await submit({ type: 'send_reply', conversationId: CONV, text: 'x' }, [file('a.txt')]);
    await q.idle();
    expect(q.list()[0]).toMatchObject({ state: 'waiting', attempts: 1, error: 'cannot reach the server' });
    expect(timerDelay()).toBe(2_000);

    h.uploadError = new TransportError('http', 'file too large', 413);
    await h.clock.tick(2_000);
    await q.idle();
    expect(q.list()[0]).toMatchObject({ state: 'failed', error: 'a.txt: file too large' });
    expect(q.counts().pending).toBe(0);
    expect(q.counts().failed).toBe(1);
    const [m] = q.pendingMessages(CONV, { id: 'me', tenantId: 't' });
    expect(m!.status).toBe('failed');

    h.uploadError = null;
    await q.retry(r.id);
    await q.idle();
    expect(h.enqueued).toHaveLength(1);

    const again = await submit({ type: 'send_reply', conversationId: CONV, text: 'y' }, [file('b.txt')]);
    h.uploadError = new TransportError('http', 'bad', 400);
    await q.idle();
    expect(q.counts().failed).toBe(1);
    await q.discard(again.id);
    expect(q.list()).toEqual([]);
    expect(h.vault.files.size).toBe(0);
  });

  it('a file gone from the device fails the entry instead of sending a reply without it', async () => {
    const { q, h, submit } = harness();
    await submit({ type: 'send_reply', conversationId: CONV, text: 'x' }, [file('a.txt')]);
    h.vault.files.clear();
    h.online = true;
    q.kick();
    await q.idle();
    expect(q.list()[0]!.state).toBe('failed');
    expect(q.list()[0]!.error).toMatch(/no longer on this device/);
    expect(h.enqueued).toEqual([]);
  });

  it('moves a queue saved by the old desktop queue (in the vault database) into the local store, once', async () => {
    const vault = memoryVault();
    const legacy = [{ id: '01900000-0000-7000-8000-0000000000d1', conversationId: CONV, intent: { type: 'add_note', conversationId: CONV, text: 'old' }, files: [], deviceTime: 1, state: 'waiting', attempts: 0, nextAttemptAt: 0, error: null }];
    let taken = false;
    vault.takeLegacyQueue = async () => (taken ? [] : ((taken = true), legacy as never));
    const data = createMemoryStoreData();
    await migrateLegacyQueue(vault, new MemoryStore({ data }));
    await migrateLegacyQueue(vault, new MemoryStore({ data }));
    const { q, h } = harness({ vault, data });
    h.online = true;
    q.kick();
    await q.idle();
    expect(h.enqueued.map((c) => c.id)).toEqual(['01900000-0000-7000-8000-0000000000d1']);
  });

  it('refuses attachments on anything but a reply, a note or a call', async () => {
    const { submit } = harness();
    await expect(submit({ type: 'set_status', conversationId: CONV, status: 'resolved' }, [file('a.txt')])).rejects.toThrow(/only replies, notes and calls/);
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import type { Attachment } from '../domain/model.js';
import { TransportError } from '../ports/transport.js';
import { FakeClock, MemoryStore, createMemoryStoreData, makeConversation, outboxRecorder, sequentialIds, testUploadQueue } from '../testing/index.js';
import { TestWorld, seedContactCenter } from '../testing/harness.js';
import type { Intent } from './client.js';
import { UPLOAD_QUEUE_META_KEY, UploadQueue, isRetryableUpload, type UploadFileInfo, type UploadPorts } from './uploads.js';

const CONV = 'conv-1';
const AGENT = { id: 'agent-1', tenantId: 'tenant-1' };
type Result = 'ok' | 'network' | 'too-large';

/** A queue over a MemoryStore and a FakeClock, with a scripted upload and a vault in a Map. */
function rig(opts: { online?: boolean; data?: ReturnType<typeof createMemoryStoreData>; clock?: FakeClock } = {}) {
  const data = opts.data ?? createMemoryStoreData();
  const clock = opts.clock ?? new FakeClock({ start: 1_000_000 });
  const outbox = outboxRecorder();
  const state = {
    dispatched: outbox.dispatched,
    enqueued: outbox.enqueued,
    online: opts.online ?? true,
    script: [] as Result[],
    uploads: [] as string[],
    files: new Map<string, string>(),
    removed: [] as string[],
    changes: 0,
    /** Makes the next upload hang until released. */
    hold: null as null | { release: () => void },
  };
  let n = 0;
  const ids = sequentialIds();
  const ports: UploadPorts<string> = {
    vault: {
      put: async (ref, _info, bytes) => void state.files.set(ref, bytes),
      get: async (ref) => state.files.get(ref) ?? null,
      remove: async (ref) => {
        state.removed.push(ref);
        state.files.delete(ref);
      },
    },
    async upload(f: UploadFileInfo): Promise<Attachment> {
      state.uploads.push(f.ref);
      if (state.hold) await new Promise<void>((resolve) => (state.hold!.release = resolve));
      const r = state.script.shift() ?? 'ok';
      if (r === 'network') throw new TransportError('network', 'cannot reach the server: offline');
      if (r === 'too-large') throw new TransportError('http', 'HTTP 413: file too large', 413);
      return { id: `att-${++n}`, name: f.name, mime: f.mime, size: f.size, sha256: 'a'.repeat(64), url: `/api/v1/attachments/att-${n}` };
    },
    isOnline: () => state.online,
  };
  const make = () => {
    const q = testUploadQueue(ports, { data, clock, ids, outbox });
    q.changed.on(() => void state.changes++);
    return q;
  };
  const queue = make();
  const advance = async (q: UploadQueue<string>, ms: number) => {
    await clock.tick(ms);
    await q.idle();
  };
  return { queue, make, state, data, clock, advance };
}

const photo = (name: string, size = 1000) => ({ name: `${name}.jpg`, mime: 'image/jpeg', size, data: `bytes of ${name}` });
const reply = (text: string): Intent => ({ type: 'send_reply', conversationId: CONV, text });
const meta = async (data: ReturnType<typeof createMemoryStoreData>) => new MemoryStore({ data }).getMeta<unknown[]>(UPLOAD_QUEUE_META_KEY);

describe('UploadQueue', () => {
  it('sends actions without files straight to the outbox when nothing waits', async () => {
    const { queue, state } = rig();
    expect(await queue.submit(reply('hello'))).toEqual({ id: 'direct-1', queued: false });
    expect(state.dispatched).toEqual([reply('hello')]);
    expect(queue.size).toBe(0);
  });

  it('uploads first, then hands the reply over with the attachment ids, and drops the files from the vault', async () => {
    const { queue, state, data } = rig();
    const { id, queued } = await queue.submit(reply('two photos'), [photo('a'), photo('b', 2000)]);
    expect(queued).toBe(true);
    await queue.idle();
    expect(state.uploads).toEqual([`${id}-0`, `${id}-1`]);
    expect(state.enqueued).toHaveLength(1);
    const cmd = state.enqueued[0]!;
    expect(cmd).toMatchObject({ id, type: 'send_reply', conversationId: CONV, text: 'two photos', deviceTime: 1_000_000 });
    expect(cmd.type === 'send_reply' && cmd.attachments?.map((a) => a.id)).toEqual(['att-1', 'att-2']);
    expect(state.files.size).toBe(0);
    expect(queue.size).toBe(0);
    expect(await meta(data)).toEqual([]);
  });

  it('queues later actions of the conversation behind an upload, in order; other conversations go straight on', async () => {
    const { queue, state } = rig({ online: false });
    const first = await queue.submit(reply('photo'), [photo('p')]);
    const note = await queue.submit({ type: 'add_note', conversationId: CONV, text: 'sent the photo' });
    const resolve = await queue.submit({ type: 'set_status', conversationId: CONV, status: 'resolved' });
    expect([note.queued, resolve.queued]).toEqual([true, true]);
    const other = await queue.submit({ type: 'add_note', conversationId: 'conv-2', text: 'elsewhere' });
    expect(other.queued).toBe(false);
    expect(queue.counts()).toEqual({ pending: 3, failed: 0 });
    expect(queue.overlay(makeConversation({ id: CONV, status: 'open' }), AGENT).status).toBe('resolved');

    const timeline = queue.pendingMessages(CONV, AGENT);
    expect(timeline.map((m) => m.id)).toEqual([first.id, note.id]);
    expect(timeline[0]!.attachments).toEqual([{ id: `local:${first.id}-0`, name: 'p.jpg', mime: 'image/jpeg', size: 1000 }]);
    expect(timeline[0]).toMatchObject({ status: 'queued', meta: { pending: true, queued: true, uploading: true, queueState: 'waiting', upload: { files: 1, uploaded: 0 } } });

    state.online = true;
    queue.kick();
    await queue.idle();
    expect(state.enqueued.map((c) => c.id)).toEqual([first.id, note.id, resolve.id]);
    expect(queue.size).toBe(0);
  });

  it('a restart in the middle of an upload uploads again and hands over the same command id exactly once', async () => {
    const { queue, make, state, data } = rig();
    state.hold = { release: () => undefined };
    const { id } = await queue.submit(reply('meter'), [photo('meter')]);
    await Promise.resolve();
    expect(queue.list()[0]!.state).toBe('uploading');
    // The app is killed here: the saved entry has its file not uploaded yet.
    queue.stop();
    const saved = (await meta(data)) as Array<{ id: string; files: Array<{ uploaded: unknown }> }>;
    expect(saved.map((e) => [e.id, e.files[0]!.uploaded])).toEqual([[id, null]]);

    state.hold = null;
    const again = make();
    await again.load();
    expect(again.list().map((e) => [e.id, e.state])).toEqual([[id, 'waiting']]);
    again.kick();
    await again.idle();
    expect(state.enqueued.map((c) => c.id)).toEqual([id]);
    expect(await meta(data)).toEqual([]);
    // A third start finds nothing left to hand over.
    const third = make();
    third.kick();
    await third.idle();
    expect(state.enqueued.map((c) => c.id)).toEqual([id]);
  });

  it('a restart after the hand-over but before the entry was dropped hands over the same command again (deduplicated by id)', async () => {
    const { make, state, data } = rig();
    const first = make();
    const { id } = await first.submit(reply('x'), [photo('x')]);
    await first.idle();
    // Replay the saved entry as it was before the hand-over (uploaded, not yet removed).
    const store = new MemoryStore({ data });
    await store.setMeta(UPLOAD_QUEUE_META_KEY, [{ id, conversationId: CONV, intent: reply('x'), files: [{ ref: `${id}-0`, name: 'x.jpg', mime: 'image/jpeg', size: 1000, uploaded: { id: 'att-1', name: 'x.jpg', mime: 'image/jpeg', size: 1000, sha256: 'a'.repeat(64) } }], deviceTime: 1_000_000, state: 'waiting', attempts: 0, nextAttemptAt: 0, error: null }]);
    const again = make();
    again.kick();
    await again.idle();
    expect(state.uploads).toHaveLength(1); // no second upload
    expect(state.enqueued.map((c) => c.id)).toEqual([id, id]);
    expect(new Set(state.enqueued.map((c) => JSON.stringify(c))).size).toBe(1);
  });

  it('backs off on network errors (2 s, 4 s, …) and goes out once the upload works', async () => {
    const { queue, state, clock, advance } = rig();
    state.script = ['network', 'network'];
    const { id } = await queue.submit(reply('retry me'), [photo('r')]);
    await queue.idle();
    expect(queue.list()[0]).toMatchObject({ state: 'waiting', attempts: 1, nextAttemptAt: clock.now() + 2_000, error: 'cannot reach the server: offline' });
    await advance(queue, 1_999);
    expect(state.uploads).toHaveLength(1);
    await advance(queue, 1);
    expect(state.uploads).toHaveLength(2);
    expect(queue.list()[0]).toMatchObject({ attempts: 2, nextAttemptAt: clock.now() + 4_000 });
    await advance(queue, 4_000);
    expect(state.uploads).toHaveLength(3);
    expect(state.enqueued.map((c) => c.id)).toEqual([id]);
    expect(isRetryableUpload(new TransportError('auth', 'expired'))).toBe(true);
    expect(isRetryableUpload(new TransportError('http', 'HTTP 413', 413))).toBe(false);
  });

  it('stops the lane on a failure the network does not explain; retry and discard', async () => {
    const { queue, state } = rig();
    state.script = ['too-large'];
    const big = await queue.submit(reply('huge video'), [photo('v')]);
    await queue.idle();
    const behind = await queue.submit({ type: 'add_note', conversationId: CONV, text: 'behind' });
    await queue.idle();
    expect(queue.list().map((e) => e.state)).toEqual(['failed', 'waiting']);
    expect(queue.list()[0]!.error).toBe('v.jpg: HTTP 413: file too large');
    expect(queue.counts()).toEqual({ pending: 1, failed: 1 });
    expect(queue.pendingMessages(CONV, AGENT)[0]).toMatchObject({ status: 'failed', statusReason: 'v.jpg: HTTP 413: file too large', meta: { queueState: 'failed' } });
    expect(state.enqueued).toEqual([]);

    await queue.retry(big.id);
    await queue.idle();
    expect(state.enqueued.map((c) => c.id)).toEqual([big.id, behind.id]);

    state.script = ['too-large'];
    const again = await queue.submit(reply('another'), [photo('w')]);
    const after = await queue.submit({ type: 'add_note', conversationId: CONV, text: 'after' });
    await queue.idle();
    await queue.discard(again.id);
    await queue.idle();
    expect(state.enqueued.map((c) => c.id)).toEqual([big.id, behind.id, after.id]);
    expect(state.removed).toContain(`${again.id}-0`);
    expect(state.files.size).toBe(0);
  });

  it('a file gone from the vault fails the reply; a call whose recording the server refuses is logged without it', async () => {
    const { queue, state } = rig({ online: false });
    const r = await queue.submit(reply('lost'), [photo('lost')]);
    state.files.clear();
    state.online = true;
    queue.kick();
    await queue.idle();
    expect(queue.list()[0]).toMatchObject({ id: r.id, state: 'failed', error: 'lost.jpg: the file is no longer on this device' });
    await queue.discard(r.id);

    state.script = ['too-large'];
    const dropped: string[] = [];
    queue.dropped.on((d) => void dropped.push(`${d.file.name}: ${d.reason}`));
    const call: Intent = { type: 'log_call', inboxId: 'inbox-1', phone: '+8613800000000', direction: 'in', from: '+8613800000000', to: '1001', startedAt: 1, answeredAt: 2, endedAt: 3, outcome: 'answered' } as Intent;
    const c = await queue.submit(call, [{ name: 'call.webm', mime: 'audio/webm', size: 10, data: 'audio' }]);
    await queue.idle();
    expect(state.enqueued.map((x) => x.id)).toEqual([c.id]);
    expect(state.enqueued[0]).not.toHaveProperty('attachments');
    expect(dropped).toEqual(['call.webm: HTTP 413: file too large']);
    expect(queue.size).toBe(0);
  });

  it('a call with its recording references the uploaded attachment', async () => {
    const { queue, state } = rig();
    const call = { type: 'log_call', conversationId: CONV, direction: 'out', from: '1001', to: '+8613800000000', startedAt: 1, answeredAt: 2, endedAt: 3, outcome: 'answered' } as Intent;
    const { id } = await queue.submit(call, [{ name: 'call.webm', mime: 'audio/webm', size: 10, data: 'audio' }]);
    expect(queue.pendingMessages(CONV, AGENT)[0]).toMatchObject({ id, kind: 'call', meta: { uploading: true } });
    await queue.idle();
    const cmd = state.enqueued[0]!;
    expect(cmd.type === 'log_call' && cmd.attachments?.map((a) => a.id)).toEqual(['att-1']);
  });
});

describe('UploadQueue.adopt', () => {
  it('takes over an entry with its fixed command id (a queue saved by an older app) once, files into the vault', async () => {
    const { queue, state } = rig({ online: false });
    const entry = { id: '01900000-0000-7000-8000-00000000f1ed', conversationId: CONV, intent: reply('old'), files: [{ ref: 'old-0', name: 'o.jpg', mime: 'image/jpeg', size: 1, uploaded: null }], deviceTime: 5, state: 'uploading' as const, attempts: 0, nextAttemptAt: 0, error: null };
    await queue.adopt(entry, ['old bytes']);
    await queue.adopt(entry, ['old bytes']);
    expect(queue.list().map((e) => [e.id, e.state])).toEqual([['01900000-0000-7000-8000-00000000f1ed', 'waiting']]);
    expect(state.files.get('old-0')).toBe('old bytes');
    state.online = true;
    queue.kick();
    await queue.idle();
    expect(state.enqueued.map((c) => [c.id, c.deviceTime])).toEqual([['01900000-0000-7000-8000-00000000f1ed', 5]]);
  });
});

describe('GoutongClient with an upload queue', () => {
  let world: TestWorld | null = null;
  afterEach(async () => {
    await world?.dispose();
    world = null;
  });

  it('counts queued uploads in connectivity, shows the waiting reply in messages(), and delivers it once online', async () => {
    world = new TestWorld({ seed: 7 });
    const { conversationIds } = seedContactCenter(world, 2);
    const conv = conversationIds[0]!;
    const files = new Map<string, string>();
    let online = false;
    let uploaded = 0;
    const ports: UploadPorts<string> = {
      vault: { put: async (ref, _i, d) => void files.set(ref, d), get: async (ref) => files.get(ref) ?? null, remove: async (ref) => void files.delete(ref) },
      upload: async (f) => {
        if (!online) throw new TransportError('network', 'offline');
        const stored = { id: `00000000-0000-7000-8000-00000000000${++uploaded}`, name: f.name, mime: f.mime, size: f.size, sha256: 'b'.repeat(64), url: '/x' };
        // The upload lands in the server's attachment store, where the reply's decision finds it.
        world!.server.addUpload(world!.tenantId, stored);
        return stored;
      },
    };
    const tc = await world.addClient('alice', { clientId: 'alice-phone', uploads: ports as UploadPorts<unknown> });
    await world.settle();
    const { id } = await tc.client.submit({ type: 'send_reply', conversationId: conv, text: 'see photo' }, [{ name: 'p.jpg', mime: 'image/jpeg', size: 3, data: 'abc' }]);
    const noteId = await tc.client.dispatch({ type: 'add_note', conversationId: conv, text: 'after the photo' });
    await world.tick(100);
    expect(tc.client.connectivity.value).toMatchObject({ pending: 2, failed: 0 });
    const shown = await tc.client.messages(conv);
    const pending = shown.find((m) => m.id === id)!;
    expect(pending.meta).toMatchObject({ queued: true, uploading: true });
    expect(pending.attachments[0]!.id).toBe(`local:${id}-0`);
    expect(shown.some((m) => m.id === noteId)).toBe(true);

    online = true;
    await world.tick(300_000);
    await world.settle();
    expect(tc.client.uploads!.size).toBe(0);
    expect(tc.client.connectivity.value).toMatchObject({ pending: 0, failed: 0 });
    expect(tc.client.outboxEntries()).toEqual([]);
  });
});

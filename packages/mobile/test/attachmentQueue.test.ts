import { describe, expect, it } from 'vitest';
import { Command, TransportError, type Attachment, type Conversation, type Intent } from '@goutong/core';
import { makeConversation } from '@goutong/core/testing';
import { AttachmentQueue, QUEUE_META_KEY, isRetryable, uploadBackoff, type AttachmentQueueDeps } from '../src/attachments/queue';
import type { LocalFile } from '../src/app/services';

const CONV = 'conv-1';
const AGENT = { id: 'agent-1', tenantId: 'tenant-1' };

/** A queue on fakes: meta in a Map, a switchable network, a scripted upload, a manual clock and timers. */
function rig(opts: { online?: boolean } = {}) {
  const meta = new Map<string, unknown>();
  const state = {
    online: opts.online ?? true,
    now: 1_000_000,
    /** Upload results to play in order; default: succeed. */
    script: [] as Array<'ok' | 'network' | 'too-large'>,
    uploads: [] as string[],
    removed: [] as string[],
    dispatched: [] as Intent[],
    enqueued: [] as Command[],
    timers: [] as Array<{ at: number; fn: () => void; cancelled: boolean }>,
    changes: 0,
  };
  let n = 0;
  let ids = 0;
  const deps: AttachmentQueueDeps = {
    meta: {
      get: async (k) => structuredClone(meta.get(k)),
      set: async (k, v) => void meta.set(k, structuredClone(v)),
    },
    files: { remove: async (ref) => void state.removed.push(ref) },
    async upload(f: LocalFile): Promise<Attachment> {
      state.uploads.push(f.ref);
      const r = state.script.shift() ?? 'ok';
      if (r === 'network') throw new TransportError('network', 'cannot reach the server: offline');
      if (r === 'too-large') throw new TransportError('http', 'HTTP 413: file too large', 413);
      return { id: `att-${++n}`, name: f.name, mime: f.mime, size: f.size, sha256: 'a'.repeat(64), url: `/api/v1/attachments/att-${n}` };
    },
    async dispatch(intent) {
      state.dispatched.push(intent);
      return `direct-${state.dispatched.length}`;
    },
    async enqueue(command) {
      const parsed = Command.safeParse(command);
      if (!parsed.success) throw new Error(parsed.error.issues[0]!.message);
      state.enqueued.push(parsed.data);
    },
    isOnline: () => state.online,
    now: () => state.now,
    newId: () => `0190${String(++ids).padStart(4, '0')}-0000-7000-8000-000000000000`,
    setTimer: (fn, ms) => {
      const t = { at: state.now + ms, fn, cancelled: false };
      state.timers.push(t);
      return t;
    },
    clearTimer: (t) => {
      (t as { cancelled: boolean }).cancelled = true;
    },
    onChange: () => void state.changes++,
  };
  const queue = new AttachmentQueue(deps);
  /** Moves the clock and fires due timers. */
  const advance = async (ms: number) => {
    state.now += ms;
    for (const t of state.timers.filter((x) => !x.cancelled && x.at <= state.now)) {
      t.cancelled = true;
      t.fn();
    }
    await queue.idle();
  };
  return { queue, deps, state, meta, advance };
}

const photo = (ref: string, size = 1000): LocalFile => ({ ref, name: `${ref}.jpg`, mime: 'image/jpeg', size });
const reply = (text: string): Intent => ({ type: 'send_reply', conversationId: CONV, text });

describe('attachment queue', () => {
  it('sends actions without files straight to the outbox when nothing waits', async () => {
    const { queue, state } = rig();
    expect(await queue.submit(reply('hello'))).toEqual({ id: 'direct-1', queued: false });
    expect(state.dispatched).toEqual([reply('hello')]);
    expect(queue.size).toBe(0);
  });

  it('uploads first, then hands the reply to the outbox referencing the uploaded ids, and drops the local files', async () => {
    const { queue, state } = rig();
    const { id, queued } = await queue.submit(reply('two photos'), [photo('a'), photo('b', 2000)]);
    expect(queued).toBe(true);
    await queue.idle();
    expect(state.uploads).toEqual(['a', 'b']);
    expect(state.enqueued).toHaveLength(1);
    const cmd = state.enqueued[0]!;
    expect(cmd).toMatchObject({ id, type: 'send_reply', conversationId: CONV, text: 'two photos', deviceTime: 1_000_000 });
    expect(cmd.type === 'send_reply' && cmd.attachments).toEqual([
      { id: 'att-1', name: 'a.jpg', mime: 'image/jpeg', size: 1000 },
      { id: 'att-2', name: 'b.jpg', mime: 'image/jpeg', size: 2000 },
    ]);
    expect(state.removed).toEqual(['a', 'b']);
    expect(queue.size).toBe(0);
  });

  it('waits offline, shows the reply as pending with its files waiting to upload, survives a restart, and uploads when back', async () => {
    const { queue, deps, state, meta } = rig({ online: false });
    await queue.submit(reply('photo of the meter'), [photo('meter')]);
    await queue.idle();
    expect(state.uploads).toEqual([]);
    const [pending] = queue.pendingMessages(CONV, AGENT);
    expect(pending).toMatchObject({ conversationId: CONV, kind: 'text', direction: 'out', text: 'photo of the meter' });
    expect(pending!.attachments).toEqual([{ id: 'local:meter', name: 'meter.jpg', mime: 'image/jpeg', size: 1000 }]);
    expect(pending!.meta).toMatchObject({ pending: true, queued: true, queueState: 'waiting', files: [{ ref: 'meter', uploaded: false }] });
    expect(meta.get(QUEUE_META_KEY)).toHaveLength(1);

    // The app is killed and started again, still offline: the entry is read back from the store.
    const again = new AttachmentQueue(deps);
    await again.load();
    expect(again.list().map((e) => e.intent)).toEqual([reply('photo of the meter')]);
    again.kick();
    await again.idle();
    expect(state.uploads).toEqual([]);

    state.online = true;
    again.kick();
    await again.idle();
    expect(state.uploads).toEqual(['meter']);
    expect(state.enqueued.map((c) => c.type === 'send_reply' && c.attachments?.map((a) => a.id))).toEqual([['att-1']]);
    expect(again.size).toBe(0);
  });

  it('keeps the order of a conversation: later actions wait behind a reply with files', async () => {
    const { queue, state } = rig({ online: false });
    await queue.submit(reply('with photo'), [photo('p')]);
    expect((await queue.submit(reply('text after'))).queued).toBe(true);
    expect((await queue.submit({ type: 'set_status', conversationId: CONV, status: 'resolved' })).queued).toBe(true);
    // Another conversation is not held up.
    expect((await queue.submit({ type: 'add_note', conversationId: 'conv-2', text: 'elsewhere' })).queued).toBe(false);
    await queue.idle();
    expect(state.enqueued).toEqual([]);
    // The timeline and the conversation show what waits: both replies, and the conversation resolved.
    expect(queue.pendingMessages(CONV, AGENT).map((m) => m.text)).toEqual(['with photo', 'text after']);
    const conv: Conversation = makeConversation({ id: CONV, status: 'open' });
    expect(queue.overlay(conv, AGENT).status).toBe('resolved');

    state.online = true;
    queue.kick();
    await queue.idle();
    expect(state.enqueued.map((c) => c.type)).toEqual(['send_reply', 'send_reply', 'set_status']);
    expect(state.enqueued.map((c) => c.deviceTime)).toEqual([1_000_000, 1_000_000, 1_000_000]);
    // Once the lane is empty, actions go straight to the outbox again.
    expect((await queue.submit(reply('now direct'))).queued).toBe(false);
  });

  it('backs off and retries when the upload fails for network reasons', async () => {
    const { queue, state, advance } = rig();
    state.script = ['network', 'network'];
    await queue.submit(reply('retry me'), [photo('x')]);
    await queue.idle();
    expect(state.uploads).toEqual(['x']);
    expect(queue.list()[0]).toMatchObject({ state: 'waiting', attempts: 1, error: 'cannot reach the server: offline' });
    await advance(1_000);
    expect(state.uploads).toHaveLength(1); // not before the backoff
    await advance(2_000);
    expect(state.uploads).toHaveLength(2);
    await advance(5_000);
    expect(state.uploads).toHaveLength(3);
    expect(state.enqueued).toHaveLength(1);
    expect(queue.size).toBe(0);
  });

  it('stops a lane on an error that waiting does not fix; retry and discard', async () => {
    const { queue, state } = rig();
    state.script = ['too-large'];
    const big = await queue.submit(reply('huge video'), [photo('huge', 50_000_000)]);
    await queue.submit(reply('after the video'));
    await queue.idle();
    expect(queue.list().map((e) => e.state)).toEqual(['failed', 'waiting']);
    expect(queue.list()[0]!.error).toBe('HTTP 413: file too large');
    expect(queue.pendingMessages(CONV, AGENT)[0]!.meta).toMatchObject({ queueState: 'failed', queueError: 'HTTP 413: file too large' });
    expect(state.enqueued).toEqual([]);

    // Retry fails the same way; discard drops it and its file, and the next entry goes.
    state.script = ['too-large'];
    await queue.retry(big.id);
    await queue.idle();
    expect(queue.list()[0]!.state).toBe('failed');
    await queue.discard(big.id);
    await queue.idle();
    expect(state.removed).toEqual(['huge']);
    expect(state.enqueued.map((c) => c.type === 'send_reply' && c.text)).toEqual(['after the video']);
    expect(queue.size).toBe(0);
  });

  it('does not upload a file twice after a restart mid-way, and hands over the same command id', async () => {
    const { queue, deps, state } = rig();
    state.script = ['ok', 'network'];
    const { id } = await queue.submit(reply('two'), [photo('one'), photo('two')]);
    await queue.idle();
    expect(state.uploads).toEqual(['one', 'two']);
    // Restart: the first file is known uploaded; only the second goes again.
    const again = new AttachmentQueue({ ...deps });
    again.kick();
    await again.idle();
    expect(state.uploads).toEqual(['one', 'two']); // still backing off
    state.now += 10_000;
    again.kick();
    await again.idle();
    expect(state.uploads).toEqual(['one', 'two', 'two']);
    expect(state.enqueued.map((c) => c.id)).toEqual([id]);
  });

  it('marks a reply that core refuses as failed instead of retrying it forever', async () => {
    const { queue, state } = rig();
    await queue.submit({ type: 'send_reply', conversationId: CONV, text: 'x'.repeat(100_001) }, [photo('p')]);
    await queue.idle();
    expect(queue.list()[0]!.state).toBe('failed');
    expect(state.enqueued).toEqual([]);
  });

  it('backoff grows to five minutes; errors without a verdict are retried', () => {
    expect(uploadBackoff(1, () => 0.5)).toBe(2_000);
    expect(uploadBackoff(3, () => 0.5)).toBe(8_000);
    expect(uploadBackoff(30, () => 0.5)).toBe(300_000);
    expect(isRetryable(new TransportError('network', 'x'))).toBe(true);
    expect(isRetryable(new TransportError('http', 'x', 400))).toBe(false);
    expect(isRetryable(new Error('weird'))).toBe(true);
  });
});

// The app's upload ports over core's upload queue (the queue's own behaviour is tested in core:
// packages/core/src/client/uploads.test.ts): files kept when picked, uploaded by ref, removed once
// handed over, entries under the app's meta key so a reply queued before the update still goes out.
import { describe, expect, it } from 'vitest';
import { TransportError, type Attachment, type Intent } from '@goutong/core';
import { FakeClock, MemoryStore, createMemoryStoreData, outboxRecorder, sequentialIds, testUploadQueue } from '@goutong/core/testing';
import { QUEUE_META_KEY, mobileUploadPorts } from '../src/attachments/uploads';
import type { LocalFile } from '../src/app/services';

const CONV = 'conv-1';
const AGENT = { id: 'agent-1', tenantId: 'tenant-1' };

function rig(opts: { online?: boolean } = {}) {
  const data = createMemoryStoreData();
  const clock = new FakeClock({ start: 1_000_000 });
  const outbox = outboxRecorder();
  const state = {
    dispatched: outbox.dispatched,
    enqueued: outbox.enqueued,
    online: opts.online ?? true,
    script: [] as Array<'ok' | 'network' | 'too-large'>,
    uploads: [] as string[],
    vault: new Set<string>(),
  };
  let n = 0;
  const ids = sequentialIds();
  const ports = mobileUploadPorts(
    { remove: async (ref) => void state.vault.delete(ref) },
    {
      async uploadAttachment(f: LocalFile): Promise<Attachment> {
        state.uploads.push(f.ref);
        const r = state.script.shift() ?? 'ok';
        if (r === 'network') throw new TransportError('network', 'cannot reach the server: offline');
        if (r === 'too-large') throw new TransportError('http', 'HTTP 413: file too large', 413);
        if (!state.vault.has(f.ref)) throw new TransportError('protocol', `${f.name} is no longer on this device`);
        return { id: `att-${++n}`, name: f.name, mime: f.mime, size: f.size, sha256: 'a'.repeat(64), url: `/api/v1/attachments/att-${n}` };
      },
    },
  );
  const make = () => testUploadQueue({ ...ports, isOnline: () => state.online }, { data, clock, ids, outbox });
  const keep = (ref: string, size = 1000): LocalFile => {
    state.vault.add(ref);
    return { ref, name: `${ref}.jpg`, mime: 'image/jpeg', size };
  };
  return { queue: make(), make, state, data, clock, keep };
}

const reply = (text: string): Intent => ({ type: 'send_reply', conversationId: CONV, text });

describe('mobile upload ports', () => {
  it('uploads the kept photos by ref, then hands the reply over referencing the ids, and removes the photos', async () => {
    const { queue, state, keep } = rig();
    const { id, queued } = await queue.submit(reply('two photos'), [keep('a'), keep('b', 2000)]);
    expect(queued).toBe(true);
    await queue.idle();
    expect(state.uploads).toEqual(['a', 'b']);
    const cmd = state.enqueued[0]!;
    expect(cmd).toMatchObject({ id, type: 'send_reply', text: 'two photos', deviceTime: 1_000_000 });
    expect(cmd.type === 'send_reply' && cmd.attachments?.map((a) => [a.id, a.name])).toEqual([['att-1', 'a.jpg'], ['att-2', 'b.jpg']]);
    expect(state.vault.size).toBe(0);
  });

  it('keeps entries under the app meta key: offline, the reply shows its photos waiting, and a restart still sends it once', async () => {
    const { queue, make, state, data, keep } = rig({ online: false });
    const { id } = await queue.submit(reply('photo of the meter'), [keep('meter')]);
    expect((await queue.submit({ type: 'set_status', conversationId: CONV, status: 'resolved' })).queued).toBe(true);
    await queue.idle();
    const [pending] = queue.pendingMessages(CONV, AGENT);
    expect(pending!.attachments).toEqual([{ id: 'local:meter', name: 'meter.jpg', mime: 'image/jpeg', size: 1000 }]);
    expect(pending!.meta).toMatchObject({ pending: true, queued: true, queueState: 'waiting', files: [{ ref: 'meter', uploaded: false }] });
    expect(await new MemoryStore({ data }).getMeta(QUEUE_META_KEY)).toHaveLength(2);

    queue.stop();
    state.online = true;
    const again = make();
    again.kick();
    await again.idle();
    expect(state.enqueued.map((c) => [c.id === id, c.type])).toEqual([[true, 'send_reply'], [false, 'set_status']]);
    expect(state.uploads).toEqual(['meter']);
  });

  it('a photo gone from the device stops the lane with the reason; discard moves the lane on', async () => {
    const { queue, state, keep } = rig();
    const f = keep('gone');
    state.vault.delete('gone');
    const r = await queue.submit(reply('lost photo'), [f]);
    await queue.idle();
    expect(queue.list()[0]).toMatchObject({ id: r.id, state: 'failed', error: 'gone.jpg: gone.jpg is no longer on this device' });
    const after = await queue.submit(reply('text after'));
    expect(after.queued).toBe(true);
    await queue.discard(r.id);
    await queue.idle();
    expect(state.enqueued.map((c) => c.id)).toEqual([after.id]);
  });

  it('marks a reply that core refuses as failed instead of retrying it forever', async () => {
    const { queue, state, keep } = rig();
    await queue.submit({ type: 'send_reply', conversationId: CONV, text: 'x'.repeat(100_001) }, [keep('p')]);
    await queue.idle();
    expect(queue.list()[0]!.state).toBe('failed');
    expect(state.enqueued).toEqual([]);
  });
});

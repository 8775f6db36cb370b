// The mobile call log: every call and voicemail of the agent's conversations from the device's
// database, newest first, with direction, outcome, talk time, recording and transcript; a call
// placed through the device dialer (logged as before) shows up in it, also offline.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createPinia, setActivePinia } from 'pinia';
import { TestWorld, makeMessage, seedContactCenter } from '@goutong/core/testing';
import { setDevice, setServices } from '../src/app/services';
import { useSessionStore } from '../src/stores/session';
import { useContactStore } from '../src/stores/contact';
import { callEntries, useCallLogStore } from '../src/stores/calls';
import { createTestDevice, type TestDevice } from './testDevice';

const PHONE = 'erin-phone';
const macrotask = () => new Promise<void>((r) => setTimeout(r, 5));
let world: TestWorld;
let device: TestDevice;
let ids: string[];

async function settle(): Promise<void> {
  await world.settle();
  await macrotask();
  await world.settle();
  await macrotask();
}
async function drive<T>(p: Promise<T>): Promise<T> {
  let done = false;
  const out = p.finally(() => {
    done = true;
  });
  for (let i = 0; i < 200 && !done; i++) {
    await world.settle();
    await macrotask();
  }
  return out;
}

beforeEach(() => {
  world = new TestWorld({ seed: 11 });
  ({ conversationIds: ids } = seedContactCenter(world, 3));
  device = createTestDevice(world, PHONE);
  setDevice(device);
  setActivePinia(createPinia());
});
afterEach(async () => {
  setServices(null);
  await world.dispose();
});

describe('callEntries', () => {
  it('keeps calls and voicemail, newest first, with outcome, talk time, recording, transcript and transfer/conference', () => {
    const conv = [{ id: 'c1', contactName: '王芳' }];
    const base = { conversationId: 'c1', tenantId: 't', authorType: 'agent' as const };
    const rec = { id: 'a1', name: 'call.wav', mime: 'audio/wav', size: 10 };
    const messages = [
      makeMessage({ ...base, id: 'm1', kind: 'call', direction: 'out', createdAt: 1_000, attachments: [rec], meta: { call: { direction: 'out', outcome: 'answered', durationSeconds: 75, transferKind: 'attended', conference: ['+86'] }, transcript: { state: 'done', text: 'hello', seconds: 75, provider: 'pocketsphinx', language: 'en', attempts: 1, error: null, nextAttemptAt: null, updatedAt: 2 } } }),
      makeMessage({ ...base, id: 'm2', kind: 'voice', direction: 'in', createdAt: 3_000, meta: { voicemail: { durationSeconds: 12 } } }),
      makeMessage({ ...base, id: 'm3', kind: 'text', direction: 'in', createdAt: 4_000 }),
      makeMessage({ ...base, id: 'm4', kind: 'call', direction: 'in', createdAt: 2_000, meta: { call: { direction: 'in', outcome: 'missed', durationSeconds: 0 } } }),
    ];
    const e = callEntries(conv, messages);
    expect(e.map((x) => [x.messageId, x.kind, x.direction, x.outcome, x.seconds])).toEqual([
      ['m2', 'voicemail', 'in', 'voicemail', 12],
      ['m4', 'call', 'in', 'missed', 0],
      ['m1', 'call', 'out', 'answered', 75],
    ]);
    expect(e[2]).toMatchObject({ contactName: '王芳', recording: { id: 'a1', mime: 'audio/wav' }, transcript: { state: 'done', text: 'hello' }, transferKind: 'attended', conference: true });
    expect(e[1]).toMatchObject({ recording: null, transcript: null, transferKind: null, conference: false });
  });
});

describe('call log store', () => {
  it('a call through the device dialer, logged offline, is in the call log; empty before', async () => {
    const session = useSessionStore();
    expect(await session.login('https://goutong.example', 'erin@acme.test', 'secret')).toBe(true);
    await settle();
    const log = useCallLogStore();
    await log.load();
    expect(log.entries).toEqual([]);
    const conversationId = ids[1]!;
    const conv = world.server.conversation(conversationId)!;
    const contact = useContactStore();
    await contact.load(conv.contactId, conversationId);
    await contact.call('+8613800000001');
    world.clock.advance(90_000);
    device.foreground();
    world.net.goOffline(PHONE);
    expect(await drive(contact.logCall({ outcome: 'answered', talkSeconds: 60 }))).toBe(true);
    await log.load();
    expect(log.entries).toHaveLength(1);
    expect(log.entries[0]).toMatchObject({ conversationId, kind: 'call', direction: 'out', outcome: 'answered', seconds: 60, contactName: conv.contactName, recording: null });
    // no recording: nothing to play
    expect(await log.recordingUrl(log.entries[0]!)).toBeNull();
  });
});

import { describe, expect, it } from 'vitest';
import { decideAutoResolve, decideSnoozeWake, DEFAULT_LIFECYCLE_SETTINGS, joinsConversation, lifecycleTimers } from './lifecycle.js';
import { decideInbound } from './eventRules.js';
import { makeContact, makeConversation, makeInbox } from '../testing/fixtures.js';

const DAY = 86_400_000;
const ids = () => {
  let n = 0;
  return { next: () => `id-${(n += 1)}` };
};

describe('lifecycle timers', () => {
  it('a snoozed conversation wakes at its time, once', () => {
    const conv = makeConversation({ status: 'snoozed', snoozedUntil: 5000 });
    expect(lifecycleTimers(conv, DEFAULT_LIFECYCLE_SETTINGS, 0).snooze).toBe(5000);
    expect(decideSnoozeWake(conv, { now: 4999, seq: 2, ids: ids() })).toBeNull();
    const facts = decideSnoozeWake(conv, { now: 5000, seq: 2, ids: ids() })!;
    expect(facts[0]).toMatchObject({ kind: 'conversation', conversation: { status: 'open', snoozedUntil: null, seq: 2 } });
    expect(facts[1]).toMatchObject({ kind: 'message', message: { kind: 'event', authorType: 'system', meta: { reason: 'snooze_ended' } } });
    // Woken already (or re-opened by the customer): nothing.
    expect(decideSnoozeWake({ ...conv, status: 'open', snoozedUntil: null }, { now: 6000, seq: 3, ids: ids() })).toBeNull();
  });

  it('a pending conversation resolves after the configured silence', () => {
    const conv = makeConversation({ status: 'pending', lastMessageAt: 1000 });
    const s = { ...DEFAULT_LIFECYCLE_SETTINGS, autoResolvePendingAfterSeconds: 3600 };
    expect(lifecycleTimers(conv, s, 2000).pending).toBe(2000 + 3600_000);
    expect(decideAutoResolve(conv, s, 2000, { now: 2000 + 3599_000, seq: 4, ids: ids() })).toBeNull();
    const facts = decideAutoResolve(conv, s, 2000, { now: 2000 + 3600_000, seq: 4, ids: ids() })!;
    expect(facts[0]).toMatchObject({ kind: 'conversation', conversation: { status: 'resolved', waitingSince: null } });
    expect(decideAutoResolve(conv, { ...s, autoResolvePendingAfterSeconds: null }, 2000, { now: 10 * DAY, seq: 4, ids: ids() })).toBeNull();
    expect(decideAutoResolve({ ...conv, status: 'open' }, s, 2000, { now: 10 * DAY, seq: 4, ids: ids() })).toBeNull();
  });

  it('a resolved conversation is joined within the reopen window; closed never', () => {
    expect(joinsConversation({ status: 'resolved', updatedAt: 0 }, DAY, DAY)).toBe(true);
    expect(joinsConversation({ status: 'resolved', updatedAt: 0 }, DAY, DAY + 1)).toBe(false);
    expect(joinsConversation({ status: 'resolved', updatedAt: 0 }, null, 1)).toBe(false);
    expect(joinsConversation({ status: 'closed', updatedAt: 0 }, DAY, 1)).toBe(false);
    expect(joinsConversation({ status: 'snoozed', updatedAt: 0 }, null, 10 * DAY)).toBe(true);
  });

  it('decideInbound reopens the latest resolved conversation within the window, else starts a new one', () => {
    const inbox = makeInbox({ id: 'in1', channel: 'sms' });
    const contact = makeContact({ id: 'c1', identities: [{ channel: 'sms', identifier: '+861' }] });
    const resolved = makeConversation({ id: 'conv1', inboxId: 'in1', contactId: 'c1', status: 'resolved', updatedAt: 1000 });
    const input = { externalId: 'x1', from: { identifier: '+861' }, text: '又有问题' };
    const within = decideInbound(input, { inbox, contact, conversation: resolved, reopenWindowMs: DAY }, { now: 2000, seq: 9, ids: ids() });
    expect(within.conversation).toMatchObject({ id: 'conv1', status: 'open' });
    const late = decideInbound(input, { inbox, contact, conversation: resolved, reopenWindowMs: DAY }, { now: 1000 + DAY + 1, seq: 9, ids: ids() });
    expect(late.conversation.id).not.toBe('conv1');
    expect(late.conversation.status).toBe('open');
    expect(late.facts.some((f) => f.kind === 'conversation' && f.isNew)).toBe(true);
    const closed = decideInbound(input, { inbox, contact, conversation: { ...resolved, status: 'closed' }, reopenWindowMs: DAY }, { now: 2000, seq: 9, ids: ids() });
    expect(closed.conversation.id).not.toBe('conv1');
    // Without a window (a channel's threading decided): joined as given, as before.
    const threaded = decideInbound(input, { inbox, contact, conversation: resolved }, { now: 2000, seq: 9, ids: ids() });
    expect(threaded.conversation).toMatchObject({ id: 'conv1', status: 'resolved' });
  });
});

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decideContactMerge, decideContactUnmerge, MERGED_INTO, sameCustomer } from './contactMerge.js';
import type { Agent, Contact, Conversation } from '../domain/model.js';

const actor: Agent = { id: 'a', tenantId: 't', email: 'a@x.test', name: 'A', role: 'agent', teamIds: [], active: true, seq: 1 };
const contact = (id: string, over: Partial<Contact> = {}): Contact => ({ id, tenantId: 't', name: id, identities: [], attributes: {}, createdAt: 0, updatedAt: 0, seq: 1, ...over });
const conv = (id: string, contactId: string): Conversation => ({
  id, tenantId: 't', inboxId: 'i', channel: 'sms', contactId, contactName: contactId, teamId: null, status: 'open', priority: 'normal', assigneeId: null,
  labels: [], subject: null, lastMessagePreview: '', lastMessageDirection: null, lastMessageAt: 0, waitingSince: null, snoozedUntil: null, messageCount: 1,
  createdAt: 0, updatedAt: 0, seq: 1,
});

describe('contact merge', () => {
  it('merge then unmerge restores both contacts and every conversation (property)', () => {
    const ident = fc.record({ channel: fc.constantFrom('sms' as const, 'voice' as const, 'email' as const), identifier: fc.constantFrom('+861', '+862', 'a@x.test', 'b@x.test') });
    const attrs = fc.dictionary(fc.constantFrom('tier', 'city', 'lang'), fc.constantFrom('vip', 'sh', 'zh'));
    fc.assert(
      fc.property(fc.uniqueArray(ident, { selector: (i) => `${i.channel}:${i.identifier}` }), fc.uniqueArray(ident, { selector: (i) => `${i.channel}:${i.identifier}` }), attrs, attrs, fc.nat(3), (ti, si, ta, sa, nConv) => {
        const target = contact('T', { identities: ti, attributes: ta });
        const source = contact('S', { identities: si, attributes: sa });
        const convs = Array.from({ length: nConv }, (_, i) => conv(`c${i}`, 'S'));
        const m = decideContactMerge({ target, source, canSeeTarget: true, canSeeSource: true, sourceConversations: convs }, { actor, now: 5, seq: 2, mergeId: 'm' });
        expect(m.decision.ok).toBe(true);
        if (!m.decision.ok) return;
        const after = new Map(m.decision.facts.flatMap((f) => (f.kind === 'contact' ? [[f.contact.id, f.contact] as const] : [])));
        const moved = m.decision.facts.flatMap((f) => (f.kind === 'conversation' ? [f.conversation] : []));
        expect(moved.every((c) => c.contactId === 'T')).toBe(true);
        expect(after.get('S')!.attributes[MERGED_INTO]).toBe('T');
        // Every identity of both is with the target now; the target's attributes win.
        for (const i of [...ti, ...si]) expect(after.get('T')!.identities.some((x) => x.channel === i.channel && x.identifier === i.identifier)).toBe(true);
        for (const [k, v] of Object.entries(ta)) expect(after.get('T')!.attributes[k]).toBe(v);
        const u = decideContactUnmerge({ record: m.record, target: after.get('T')!, source: after.get('S')!, canSeeTarget: true, movedConversations: moved }, { actor, now: 6, seq: 3 });
        expect(u.ok).toBe(true);
        if (!u.ok) return;
        const back = new Map(u.facts.flatMap((f) => (f.kind === 'contact' ? [[f.contact.id, f.contact] as const] : [])));
        expect(back.get('T')!.identities).toEqual(ti);
        expect(back.get('T')!.attributes).toEqual(ta);
        expect(back.get('S')!.identities).toEqual(si);
        expect(back.get('S')!.attributes).toEqual(sa);
        expect(u.facts.filter((f) => f.kind === 'conversation').every((f) => f.kind === 'conversation' && f.conversation.contactId === 'S')).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('refuses self-merge, unseen contacts and double merges', () => {
    const t = contact('T');
    expect(decideContactMerge({ target: t, source: t, canSeeTarget: true, canSeeSource: true, sourceConversations: [] }, { actor, now: 1, seq: 1, mergeId: 'm' }).decision).toMatchObject({ ok: false, rejection: { code: 'bad_request' } });
    expect(decideContactMerge({ target: t, source: contact('S'), canSeeTarget: true, canSeeSource: false, sourceConversations: [] }, { actor, now: 1, seq: 1, mergeId: 'm' }).decision).toMatchObject({ ok: false, rejection: { code: 'not_found' } });
    expect(decideContactMerge({ target: t, source: contact('S', { attributes: { [MERGED_INTO]: 'X' } }), canSeeTarget: true, canSeeSource: true, sourceConversations: [] }, { actor, now: 1, seq: 1, mergeId: 'm' }).decision).toMatchObject({ ok: false, rejection: { code: 'conflict' } });
    expect(sameCustomer({ identities: [{ channel: 'sms', identifier: '+86 135' }] }, { identities: [{ channel: 'voice', identifier: '+86135' }] })).toBe('+86 135');
  });
});

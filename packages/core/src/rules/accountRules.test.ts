import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { makeAgent, makeContact, makeConversation, makeMessage } from '../testing/fixtures.js';
import { decideAgentPatch, decideErasure, ERASED_NAME, isPastRetention, passwordProblem, retentionCutoff, retentionDays, RetentionPolicy } from './accountRules.js';

const DAY = 24 * 3600_000;

describe('decideAgentPatch', () => {
  const admin = makeAgent({ id: 'a1', tenantId: 't1', role: 'admin', active: true });
  const agent = makeAgent({ id: 'a2', tenantId: 't1', role: 'agent', active: true, teamIds: [] });
  const ctx = { activeAdmins: 1, knownTeamIds: ['team-1'] };

  it('only admins edit; other tenants are not found; unknown teams are refused', () => {
    expect(decideAgentPatch(agent, admin, { name: 'x' }, ctx)).toMatchObject({ ok: false, rejection: { code: 'forbidden' } });
    expect(decideAgentPatch(admin, { ...agent, tenantId: 't2' }, { name: 'x' }, ctx)).toMatchObject({ ok: false, rejection: { code: 'not_found' } });
    expect(decideAgentPatch(admin, null, { name: 'x' }, ctx)).toMatchObject({ ok: false, rejection: { code: 'not_found' } });
    expect(decideAgentPatch(admin, agent, { teamIds: ['nope'] }, ctx)).toMatchObject({ ok: false, rejection: { code: 'bad_request' } });
  });

  it('never leaves the workspace without an active admin; an admin cannot lock themselves out', () => {
    expect(decideAgentPatch(admin, admin, { active: false }, { ...ctx, activeAdmins: 2 })).toMatchObject({ ok: false, rejection: { code: 'conflict' } });
    expect(decideAgentPatch(admin, admin, { role: 'agent' }, { ...ctx, activeAdmins: 2 })).toMatchObject({ ok: false, rejection: { code: 'conflict' } });
    const other = makeAgent({ id: 'a3', tenantId: 't1', role: 'admin', active: true });
    expect(decideAgentPatch(admin, other, { active: false }, { ...ctx, activeAdmins: 1 })).toMatchObject({ ok: false, rejection: { code: 'conflict' } });
    expect(decideAgentPatch(admin, other, { active: false }, { ...ctx, activeAdmins: 2 })).toMatchObject({ ok: true, deactivated: true });
  });

  it('reports what changed, deactivation and reactivation', () => {
    const d = decideAgentPatch(admin, agent, { role: 'supervisor', teamIds: ['team-1', 'team-1'], name: agent.name }, ctx);
    expect(d).toMatchObject({ ok: true, changed: ['role', 'teamIds'], deactivated: false, reactivated: false, agent: { role: 'supervisor', teamIds: ['team-1'] } });
    expect(decideAgentPatch(admin, agent, { active: false }, ctx)).toMatchObject({ ok: true, deactivated: true });
    expect(decideAgentPatch(admin, { ...agent, active: false }, { active: true }, ctx)).toMatchObject({ ok: true, reactivated: true });
    expect(decideAgentPatch(admin, agent, {}, ctx)).toMatchObject({ ok: true, changed: [] });
  });

  it('password policy', () => {
    expect(passwordProblem('short')).not.toBeNull();
    expect(passwordProblem('aaaaaaaaaaaa')).not.toBeNull();
    expect(passwordProblem('a-good-long-passphrase')).toBeNull();
  });
});

describe('decideErasure', () => {
  it('replaces every personal value, keeps statistics, stamps every row with the seq', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 3 }), fc.string({ minLength: 3 }), fc.string({ minLength: 3 }), (name, text, subject) => {
        const contact = makeContact({ id: 'k1', name, identities: [{ channel: 'sms', identifier: '+8613800138000' }], attributes: { address: text } });
        const conv = makeConversation({ id: 'c1', contactId: 'k1', contactName: name, subject, lastMessagePreview: text, messageCount: 7 });
        const msg = makeMessage({ id: 'm1', conversationId: 'c1', text, subject, attachments: [{ id: 'f1', name: `${name}.pdf`, mime: 'application/pdf', size: 3 }], meta: { from: name } });
        const facts = decideErasure(contact, [conv], [msg], ['f1'], { seq: 99, now: 5, actorId: 'a1' });
        const written = JSON.stringify(facts.filter((f) => f.kind !== 'audit'));
        const dropped = facts.filter((f) => f.kind === 'attachment_drop' || f.kind === 'contact_identities_drop').map((f) => f.kind);
        expect(dropped.sort()).toEqual(['attachment_drop', 'contact_identities_drop']);
        const c = facts.find((f) => f.kind === 'contact');
        const cv = facts.find((f) => f.kind === 'conversation');
        const m = facts.find((f) => f.kind === 'message_redact');
        expect(c && c.kind === 'contact' && c.contact).toMatchObject({ name: ERASED_NAME, identities: [], attributes: {}, seq: 99 });
        expect(cv && cv.kind === 'conversation' && cv.conversation).toMatchObject({ contactName: ERASED_NAME, messageCount: 7, seq: 99, createdAt: conv.createdAt });
        expect(m && m.kind === 'message_redact' && m).toMatchObject({ attachments: [], seq: 99 });
        expect(written.includes('+8613800138000')).toBe(false);
        if (!ERASED_NAME.includes(name) && !'[erased]'.includes(name) && !JSON.stringify({ erased: true }).includes(name) && !/^[\s\w:"{},[\].-]*$/.test(name)) {
          expect(written.includes(JSON.stringify(name).slice(1, -1))).toBe(false);
        }
      }),
    );
  });
});

describe('retention', () => {
  const p = RetentionPolicy.parse({ days: 30, channels: { sms: 7, email: null } });
  it('a channel setting wins over the default; null keeps forever', () => {
    expect(retentionDays(p, 'sms')).toBe(7);
    expect(retentionDays(p, 'email')).toBeNull();
    expect(retentionDays(p, 'voice')).toBe(30);
    expect(retentionCutoff(p, 'email', 100 * DAY)).toBeNull();
    expect(retentionCutoff(p, 'voice', 100 * DAY)).toBe(70 * DAY);
    expect(isPastRetention(p, 'sms', 92 * DAY, 100 * DAY)).toBe(true);
    expect(isPastRetention(p, 'sms', 94 * DAY, 100 * DAY)).toBe(false);
    expect(isPastRetention(p, 'email', 0, 100 * DAY)).toBe(false);
    expect(RetentionPolicy.safeParse({ days: 0 }).success).toBe(false);
    expect(RetentionPolicy.parse({ days: null })).toEqual({ days: null, channels: {} });
  });
});

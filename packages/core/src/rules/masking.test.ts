import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compilePatterns, detectPii, isMaskedFormOf, isValidCnId, keepClearValue, luhnValid, maskContact, maskText, MaskPatternSpec, unsafePatternReason } from './masking.js';
import { BUILTIN_ROLES, can, checkSignIn, decideRoleGrant, ipInCidr, PermissionSet, scopeAllowsInbox } from './permissions.js';

/** A valid resident ID from its first 17 digits (ISO 7064 MOD 11-2). */
export function cnId(first17: string): string {
  const w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const sum = [...first17].reduce((s, d, i) => s + Number(d) * w[i]!, 0);
  return first17 + '10X98765432'[sum % 11]!;
}
/** A Luhn-valid card number from its first digits. */
export function card(prefix: string): string {
  for (let d = 0; d < 10; d++) if (luhnValid(prefix + d)) return prefix + d;
  throw new Error('unreachable');
}

describe('check digits', () => {
  it('accepts the published example ID and refuses a wrong check digit', () => {
    expect(isValidCnId('11010519491231002X')).toBe(true);
    expect(isValidCnId('110105194912310021')).toBe(false);
    expect(isValidCnId(cnId('44030419900307123'))).toBe(true);
  });
  it('Luhn', () => {
    expect(luhnValid('4111111111111111')).toBe(true);
    expect(luhnValid('4111111111111112')).toBe(false);
    expect(luhnValid('79927398713')).toBe(true);
  });
});

describe('maskText', () => {
  it('masks a CN mobile as 138****5678, with or without +86 and separators', () => {
    expect(maskText('电话13812345678请回电')).toBe('电话138****5678请回电');
    expect(maskText('call +86 138 1234 5678 now')).toBe('call +86 138 **** 5678 now');
    expect(maskText('+8613812345678')).toBe('+86138****5678');
  });
  it('masks email addresses as z***@example.com', () => {
    expect(maskText('write to zhang.san@example.com.')).toBe('write to z***@example.com.');
    expect(maskText('邮箱：li@163.com，谢谢')).toBe('邮箱：l***@163.com，谢谢');
  });
  it('masks resident IDs, keeping 3 + 4', () => {
    expect(maskText('身份证11010519491231002X')).toBe('身份证110***********002X');
  });
  it('masks Luhn-valid cards keeping the last 4, separators kept', () => {
    expect(maskText('card 4111 1111 1111 1111 ok')).toBe('card **** **** **** 1111 ok');
    const c = card('622202123456789012');
    expect(maskText(`卡号${c}`)).toBe(`卡号${'*'.repeat(15)}${c.slice(-4)}`);
  });
  it('masks landlines and international numbers', () => {
    expect(maskText('座机 010-62345678')).toBe('座机 010-****5678');
    expect(maskText('(021)87654321')).toBe('(021)****4321');
    expect(maskText('UK +447911123456')).toBe('UK +44******3456');
  });
  it('leaves order numbers with wrong check digits, short numbers and dates clear', () => {
    for (const t of ['order 4111111111111112', '订单号110105194912310021', 'ticket 12345', 'on 2026-12-03 at 10:30', 'amount 1234567.89', 'v1.2.3']) {
      expect(maskText(t)).toBe(t);
    }
  });
  it('never leaves a generated value of any kind clear, in Chinese or English context', () => {
    const digit = fc.integer({ min: 0, max: 9 }).map(String);
    const mobile = fc.tuple(fc.constantFrom('3', '5', '7', '8', '9'), fc.array(digit, { minLength: 9, maxLength: 9 })).map(([a, r]) => `1${a}${r.join('')}`);
    const id = fc.tuple(fc.integer({ min: 110000, max: 659000 }), fc.integer({ min: 1950, max: 2010 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 28 }), fc.integer({ min: 100, max: 999 }))
      .map(([a, y, m, d, s]) => cnId(`${a}${y}${String(m).padStart(2, '0')}${String(d).padStart(2, '0')}${s}`));
    const cardN = fc.tuple(fc.constantFrom('4', '5', '62'), fc.array(digit, { minLength: 13, maxLength: 13 })).map(([p, r]) => card(p + r.join('')));
    const email = fc.tuple(fc.stringMatching(/^[a-z][a-z0-9.]{1,10}[a-z]$/), fc.constantFrom('example.com', 'qq.com', 'corp.cn')).map(([l, d]) => `${l}@${d}`);
    const pii = fc.oneof(mobile, id, cardN, email);
    const filler = fc.constantFrom('您好，我的', 'please call ', '，谢谢。', ' and ', '：', ' (urgent) ', '');
    fc.assert(
      fc.property(fc.array(fc.tuple(filler, pii), { minLength: 1, maxLength: 4 }), (parts) => {
        const text = parts.map(([f, p]) => `${f}${p}`).join(' ');
        const masked = maskText(text);
        for (const [, p] of parts) expect(masked).not.toContain(p);
      }),
      { numRuns: 300 },
    );
  });
  it('masks a contact: identities, name where a number, attributes', () => {
    const c = maskContact({
      id: 'c1', tenantId: 't', name: '13812345678', identities: [{ channel: 'sms', identifier: '+8613812345678' }, { channel: 'email', identifier: 'zhang@example.com' }],
      attributes: { note: 'ID 11010519491231002X', city: '北京' }, createdAt: 1, updatedAt: 1, seq: 1,
    });
    expect(c.name).toBe('138****5678');
    expect(c.identities.map((i) => i.identifier)).toEqual(['+86138****5678', 'z***@example.com']);
    expect(c.attributes).toEqual({ note: 'ID 110***********002X', city: '北京' });
  });
});

describe('admin patterns', () => {
  it('validates: refuses catastrophic shapes, backreferences, empty matches', () => {
    expect(unsafePatternReason('(a+)+$')).toMatch(/nested/);
    expect(unsafePatternReason('(x|y*)*')).toMatch(/nested/);
    expect(unsafePatternReason('(a)\\1')).toMatch(/backreference/);
    expect(unsafePatternReason('a*')).toMatch(/empty/);
    expect(unsafePatternReason('(')).toMatch(/valid/);
    expect(unsafePatternReason('VIP-\\d{6}')).toBeNull();
    expect(MaskPatternSpec.safeParse({ name: 'vip', pattern: '(a+)+' }).success).toBe(false);
  });
  it('masks matches of a valid pattern', () => {
    const p = compilePatterns([{ name: 'member', pattern: 'VIP-\\d{6}' }]);
    expect(maskText('会员 VIP-123456 到店', p)).toBe('会员 ***-****** 到店');
    expect(detectPii('VIP-123456', p)[0]?.pattern).toBe('member');
  });
});

describe('values sent back masked', () => {
  it('keeps the clear value when the device sent its masked form', () => {
    expect(isMaskedFormOf('138****5678', '13812345678')).toBe(true);
    expect(keepClearValue('z***@example.com', 'zhang@example.com')).toBe('zhang@example.com');
    expect(keepClearValue('new value', 'zhang@example.com')).toBe('new value');
    expect(keepClearValue('139****0000', '13812345678')).toBe('139****0000');
  });
});

describe('permissions', () => {
  const inbox = { id: 'i1', teamIds: ['t1'] };
  it('built-ins: agent lacks pii.view, supervisor and admin have it', () => {
    expect(can({ role: 'agent' }, 'pii.view')).toBe(false);
    expect(can({ role: 'supervisor' }, 'pii.view')).toBe(true);
    expect(can({ role: 'admin' }, 'pii.view')).toBe(true);
  });
  it('scopes: teams, listed, all', () => {
    expect(scopeAllowsInbox({ role: 'agent', teamIds: ['t1'] }, inbox)).toBe(true);
    expect(scopeAllowsInbox({ role: 'agent', teamIds: ['t2'] }, inbox)).toBe(false);
    expect(scopeAllowsInbox({ role: 'agent', teamIds: [] }, { id: 'x', teamIds: [] })).toBe(true);
    const listed = { role: 'agent' as const, teamIds: ['t1'], permissions: { actions: [], scope: { kind: 'listed' as const, inboxIds: ['i9'], teamIds: [] } } };
    expect(scopeAllowsInbox(listed, inbox)).toBe(false);
    expect(scopeAllowsInbox(listed, { id: 'i9', teamIds: ['t5'] })).toBe(true);
    expect(scopeAllowsInbox(listed, { id: 'x', teamIds: [] })).toBe(false);
  });
  it('CIDR and hours', () => {
    expect(ipInCidr('10.1.2.3', '10.0.0.0/8')).toBe(true);
    expect(ipInCidr('11.1.2.3', '10.0.0.0/8')).toBe(false);
    expect(ipInCidr('::ffff:10.1.2.3', '10.0.0.0/8')).toBe(true);
    expect(ipInCidr('2001:db8::1', '2001:db8::/32')).toBe(true);
    expect(ipInCidr('2001:db9::1', '2001:db8::/32')).toBe(false);
    const p = PermissionSet.parse({ actions: [], scope: { kind: 'teams' }, ipRanges: ['192.168.0.0/16'], hours: { from: 540, to: 1080, days: [1, 2, 3, 4, 5], utcOffsetMinutes: 480 } });
    const thu10 = Date.UTC(2026, 11, 3, 2, 0); // 10:00 Thursday in UTC+8
    expect(checkSignIn({ role: 'agent', permissions: p }, '192.168.1.5', thu10)).toEqual({ ok: true });
    expect(checkSignIn({ role: 'agent', permissions: p }, '8.8.8.8', thu10)).toMatchObject({ ok: false, reason: 'ip' });
    expect(checkSignIn({ role: 'agent', permissions: p }, '192.168.1.5', thu10 + 10 * 3600_000)).toMatchObject({ ok: false, reason: 'hours' });
    expect(PermissionSet.safeParse({ actions: [], scope: { kind: 'all' }, ipRanges: ['10.0.0.0/33'] }).success).toBe(false);
  });
  it('a role grant cannot exceed its creator', () => {
    expect(decideRoleGrant({ role: 'admin' }, BUILTIN_ROLES.supervisor).ok).toBe(true);
    expect(decideRoleGrant({ role: 'supervisor' }, BUILTIN_ROLES.agent).ok).toBe(false);
  });
});

describe('a masked number coming back in a call log', () => {
  it('is refused by the rule instead of creating a contact', async () => {
    const { decideCommand, emptyCommandState } = await import('./commandRules.js');
    const actor = { id: 'a1', tenantId: 't', email: 'a@example.com', name: 'A', role: 'agent' as const, teamIds: [], active: true, seq: 1 };
    const inbox = { id: 'v1', tenantId: 't', name: 'Voice', channel: 'voice' as const, provider: 'sip', teamIds: [], createdAt: 1, seq: 1 };
    const state = { ...emptyCommandState(), inbox };
    const d = decideCommand(
      { type: 'log_call', id: '01939a4e-0000-7000-8000-000000000001', deviceTime: 1, inboxId: 'v1', phone: '+86138****5678', direction: 'out', from: '1001', to: '+86138****5678', startedAt: 1, endedAt: 2, outcome: 'missed' },
      state,
      { actor, now: 10, seq: 5, ids: { next: () => 'x' } },
    );
    expect(d).toMatchObject({ ok: false, rejection: { code: 'bad_request' } });
  });
});

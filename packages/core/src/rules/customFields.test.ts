import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { checkContactAttributes, ContactFieldInput, ContactFieldPatch, normalizeFieldValue, personalAttributeKeys, sortFields, type ContactField } from './customFields.js';
import { decideCommand, emptyCommandState } from './commandRules.js';
import { maskContact, maskPersonalValue, keepClearValue } from './masking.js';
import type { Agent, Contact } from '../domain/model.js';

const f = (key: string, type: ContactField['type'], over: Partial<ContactField> = {}): ContactField => ({
  id: `f-${key}`, tenantId: 't', key, type, label: { zh: key, en: key }, required: false, options: [], order: 0, createdAt: 0, updatedAt: 0, ...over,
});
const FIELDS = [f('vip', 'boolean'), f('spend', 'number'), f('birthday', 'date'), f('tier', 'select', { options: ['gold', 'silver'] }), f('mobile', 'phone'), f('workEmail', 'email'), f('city', 'text', { required: true })];

describe('custom fields: one validation for server and devices', () => {
  it('normalises each type and refuses what does not fit', () => {
    expect(normalizeFieldValue(f('x', 'number'), ' 12.50 ')).toEqual({ ok: true, value: '12.5' });
    expect(normalizeFieldValue(f('x', 'number'), '12a').ok).toBe(false);
    expect(normalizeFieldValue(f('x', 'boolean'), '是')).toEqual({ ok: true, value: 'true' });
    expect(normalizeFieldValue(f('x', 'boolean'), 'maybe').ok).toBe(false);
    expect(normalizeFieldValue(f('x', 'date'), '2026-02-30').ok).toBe(false);
    expect(normalizeFieldValue(f('x', 'date'), '2024-02-29')).toEqual({ ok: true, value: '2024-02-29' });
    expect(normalizeFieldValue(f('x', 'select', { options: ['gold'] }), 'gold').ok).toBe(true);
    expect(normalizeFieldValue(f('x', 'select', { options: ['gold'] }), 'bronze').ok).toBe(false);
    expect(normalizeFieldValue(f('x', 'phone'), '+86 138-0013-8000').ok).toBe(true);
    expect(normalizeFieldValue(f('x', 'phone'), 'call me').ok).toBe(false);
    expect(normalizeFieldValue(f('x', 'email'), 'li@example.cn').ok).toBe(true);
    expect(normalizeFieldValue(f('x', 'email'), 'li@').ok).toBe(false);
  });

  it('checks only changed values of defined fields; required ones cannot be cleared', () => {
    const r = checkContactAttributes(FIELDS, { spend: 'legacy' }, { spend: 'legacy', vip: 'yes', free: 'anything' });
    expect(r).toEqual({ ok: true, attributes: { spend: 'legacy', vip: 'true', free: 'anything' } });
    const bad = checkContactAttributes(FIELDS, { city: '上海' }, { city: '', tier: 'bronze' });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.errors.map((e) => e.key).sort()).toEqual(['city', 'tier']);
  });

  it('a normalised value is a fixed point (property)', () => {
    fc.assert(fc.property(fc.constantFrom(...FIELDS), fc.oneof(fc.string({ maxLength: 12 }), fc.double({ noNaN: true }).map(String), fc.constantFrom('yes', 'no', '2026-12-03', 'gold')), (field, raw) => {
      const r = normalizeFieldValue(field, raw);
      if (r.ok) expect(normalizeFieldValue(field, r.value)).toEqual(r);
    }));
  });

  it('definitions: select needs options, keys are safe and not the server\'s', () => {
    expect(ContactFieldInput.safeParse({ key: 'tier', type: 'select', label: { zh: '等级', en: 'Tier' } }).success).toBe(false);
    expect(ContactFieldInput.safeParse({ key: 'optedOut', type: 'boolean', label: { zh: 'a', en: 'a' } }).success).toBe(false);
    expect(ContactFieldInput.safeParse({ key: '1x', type: 'text', label: { zh: 'a', en: 'a' } }).success).toBe(false);
    expect(ContactFieldInput.safeParse({ key: 'vip', type: 'boolean', label: { zh: '贵宾', en: 'VIP' }, options: ['x'] }).success).toBe(false);
    expect(ContactFieldPatch.safeParse({ type: 'number' }).success).toBe(false);
    expect(sortFields([f('b', 'text', { order: 1 }), f('a', 'text', { order: 1 }), f('z', 'text')]).map((x) => x.key)).toEqual(['z', 'a', 'b']);
  });
});

describe('update_contact validates against the field definitions', () => {
  const actor: Agent = { id: 'a1', tenantId: 't', email: 'a@x.test', name: 'A', role: 'admin', teamIds: [], active: true, seq: 1 };
  const contact: Contact = { id: 'c1', tenantId: 't', name: '王芳', identities: [], attributes: { city: '上海', mobile: '5551234' }, createdAt: 0, updatedAt: 0, seq: 1 };
  const ctx = { actor, now: 10, seq: 2, ids: { next: () => 'x' } };
  const cmd = (attributes: Record<string, string>) => ({ type: 'update_contact' as const, id: '0190a0b0-0000-7000-8000-000000000001', deviceTime: 1, contactId: 'c1', attributes });

  it('refuses a value that does not fit, normalises one that does, and audits the changed keys only', () => {
    const state = { ...emptyCommandState(), contact, contactFields: FIELDS };
    const bad = decideCommand(cmd({ spend: 'lots' }), state, ctx);
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.rejection).toMatchObject({ code: 'bad_request', message: expect.stringContaining('spend') });
    const good = decideCommand(cmd({ spend: '1,000'.replace(',', ''), vip: 'Yes' }), state, ctx);
    expect(good.ok).toBe(true);
    if (!good.ok) return;
    const c = good.facts.find((x) => x.kind === 'contact');
    expect(c?.kind === 'contact' && c.contact.attributes).toEqual({ city: '上海', mobile: '5551234', spend: '1000', vip: 'true' });
    const audit = good.facts.find((x) => x.kind === 'audit');
    expect(audit).toMatchObject({ kind: 'audit', action: 'contact.update', target: 'c1', details: { attributes: ['spend', 'vip'], name: false } });
    expect(JSON.stringify(audit)).not.toContain('1000');
  });

  it('a device without pii.view sends a masked phone back: the clear value stays', () => {
    const masked = maskContact(contact, [], personalAttributeKeys(FIELDS));
    expect(masked.attributes['mobile']).toBe('*****34');
    expect(keepClearValue(masked.attributes['mobile']!, '5551234')).toBe('5551234');
    const r = decideCommand(cmd({ mobile: masked.attributes['mobile']!, city: '北京' }), { ...emptyCommandState(), contact, contactFields: FIELDS }, ctx);
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.facts.find((x) => x.kind === 'contact')).toMatchObject({ contact: { attributes: { mobile: '5551234', city: '北京' } } });
  });

  it('personal fields are masked whole, detected data the usual way (property: never the clear value, and its masked form keeps the clear one)', () => {
    expect(maskPersonalValue('li.wei@example.cn')).toBe('l***@example.cn');
    expect(maskPersonalValue('13800138000')).toBe('138****8000');
    expect(maskPersonalValue('5551234')).toBe('*****34');
    fc.assert(fc.property(fc.stringMatching(/^\+?[0-9]{3}[0-9 -]{0,12}$/), (v) => {
      const m = maskPersonalValue(v);
      expect(m).not.toBe(v);
      expect(m).toContain('*');
      expect(keepClearValue(m, v)).toBe(v);
    }));
  });
});

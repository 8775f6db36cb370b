// [fields] The mobile contact page's custom fields: the form's changes are checked with core's field
// rule; a valid edit goes out as an update_contact intent, shows at once while offline and reaches the
// server once online; segments are evaluated on the device.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createPinia, setActivePinia } from 'pinia';
import { TestWorld, seedContactCenter } from '@goutong/core/testing';
import type { ContactField, Offer, Segment } from '@goutong/core';
import { setDevice, setServices } from '../src/app/services';
import { useSessionStore } from '../src/stores/session';
import { useContactStore } from '../src/stores/contact';
import { useConversationStore } from '../src/stores/conversation';
import { fieldChanges, useTargetingStore } from '../src/stores/targeting';
import { createTestDevice } from './testDevice';

const PHONE = 'erin-phone';
const macrotask = () => new Promise<void>((r) => setTimeout(r, 5));
let world: TestWorld;
let ids: string[];

const field = (key: string, type: ContactField['type'], over: Partial<ContactField> = {}): ContactField => ({
  id: `f-${key}`, tenantId: 't', key, type, label: { zh: key, en: key }, required: false, options: [], order: 0, createdAt: 0, updatedAt: 0, ...over,
});
const FIELDS = [field('vip', 'boolean'), field('city', 'text', { required: true }), field('spend', 'number')];
const VIP: Segment = { id: 'seg', tenantId: 't', name: 'Shanghai VIP', description: '', rule: { match: 'all', conditions: [{ kind: 'attribute', key: 'vip', op: 'eq', value: 'true' }, { kind: 'attribute', key: 'city', op: 'eq', value: '上海' }] }, createdAt: 0, updatedAt: 0 };

async function settle(): Promise<void> {
  for (let i = 0; i < 2; i++) {
    await world.settle();
    await macrotask();
  }
}

beforeEach(() => {
  world = new TestWorld({ seed: 11 });
  ({ conversationIds: ids } = seedContactCenter(world, 2));
  setDevice(createTestDevice(world, PHONE));
  setActivePinia(createPinia());
});

afterEach(async () => {
  useConversationStore().close();
  setServices(null);
  await world.dispose();
});

describe('custom fields on the mobile contact page', () => {
  it('checks the form with the core rule: only changed values, normalised; bad and cleared required values refused', () => {
    expect(fieldChanges(FIELDS, { city: '北京' }, { vip: '是', city: '北京', spend: ' 12.0 ' })).toEqual({ attributes: { vip: 'true', spend: '12' }, errors: {} });
    const bad = fieldChanges(FIELDS, { city: '北京' }, { vip: 'maybe', city: '', spend: 'x' });
    expect(Object.keys(bad.errors).sort()).toEqual(['city', 'spend', 'vip']);
    expect(bad.errors['city']).toBe('required');
  });

  it('saves offline through the outbox, shows the change and the segment at once, and the server gets it online', async () => {
    const session = useSessionStore();
    expect(await session.login('https://goutong.example', 'erin@acme.test', 'secret')).toBe(true);
    await settle();
    const contactId = world.server.conversation(ids[0]!)!.contactId;
    const contact = useContactStore();
    await contact.load(contactId, ids[0]!);
    const targeting = useTargetingStore();
    targeting.fields = FIELDS;
    targeting.segments = [VIP];
    expect(targeting.segmentsOf(contact.contact!, null)).toEqual([]);

    world.net.goOffline(PHONE);
    await settle();
    const { attributes } = fieldChanges(FIELDS, contact.contact!.attributes, { vip: 'yes', city: '上海' });
    await targeting.save(contactId, attributes);
    await contact.load(contactId, ids[0]!);
    expect(contact.contact!.attributes).toMatchObject({ vip: 'true', city: '上海' });
    expect(targeting.segmentsOf(contact.contact!, null).map((g) => g.name)).toEqual(['Shanghai VIP']);
    expect(world.server.contact(contactId)?.attributes['city']).toBeUndefined();

    world.net.goOnline(PHONE);
    await settle();
    await settle();
    expect(world.server.contact(contactId)?.attributes).toMatchObject({ vip: 'true', city: '上海' });
  });

  it('suggests the offers of the customer\u2019s segments on the device; a reply with the offer carries its id to the server', async () => {
    const session = useSessionStore();
    expect(await session.login('https://goutong.example', 'erin@acme.test', 'secret')).toBe(true);
    await settle();
    const id = ids[0]!;
    const contactId = world.server.conversation(id)!.contactId;
    const targeting = useTargetingStore();
    targeting.fields = FIELDS;
    targeting.segments = [VIP];
    const offer: Offer = { id: 'offer-1', tenantId: 't', title: 'VIP', text: null, textZh: '贵宾九折', textEn: '10% off', segmentId: 'seg', validFrom: null, validTo: null, active: true, createdAt: 0, updatedAt: 0 };
    targeting.offers = [offer];
    const contact = useContactStore();
    await contact.load(contactId, id);
    expect(targeting.offersFor(contact.contact!, null)).toEqual([]);
    await targeting.save(contactId, { vip: 'true', city: '上海' });
    await contact.load(contactId, id);
    expect(targeting.offersFor(contact.contact!, null).map((o) => o.id)).toEqual(['offer-1']);

    const conversation = useConversationStore();
    const opened = conversation.open(id);
    for (let i = 0; i < 50; i++) await settle();
    await opened;
    world.net.goOffline(PHONE);
    await settle();
    conversation.applyOffer(offer.id, '贵宾九折');
    expect(conversation.text).toBe('贵宾九折');
    const sent = conversation.send();
    for (let i = 0; i < 20; i++) await settle();
    expect(await sent).toBe(true);
    world.net.goOnline(PHONE);
    for (let i = 0; i < 4; i++) await settle();
    const reply = world.server.messagesOf(id).find((m) => m.text === '贵宾九折');
    expect(reply?.meta['offerId']).toBe('offer-1');
  });
});

import { IDBFactory, IDBKeyRange } from 'fake-indexeddb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runStorageConformance } from '@goutong/core/testing';
import type { Conversation, Message } from '@goutong/core';
import { AesGcmCipher, cipherFromRawKey, deleteDeviceKey, deviceKeyCipher, newRawKey, RxdbStore } from '../src/index.js';

const indexedDB = new IDBFactory();
let n = 0;
let name = '';

// The whole LocalStore contract holds with encryption on (a device key per database, in IndexedDB).
runStorageConformance(
  'RxdbStore encrypted (AES-GCM, device key in IndexedDB)',
  async ({ reopen }) => {
    if (!reopen) name = `enc-conformance${++n}`;
    return RxdbStore.open({ name, indexedDB, IDBKeyRange, devMode: true, cipher: await deviceKeyCipher(name, indexedDB as unknown as globalThis.IDBFactory) });
  },
  { describe, it, expect, beforeEach, afterEach },
  { persistent: true, timeout: 30_000 },
);

/** Every value of every object store of every IndexedDB database, as text. */
async function rawContents(idb: IDBFactory): Promise<string> {
  const req = <T>(r: IDBRequest<T>) => new Promise<T>((resolve, reject) => ((r.onsuccess = () => resolve(r.result)), (r.onerror = () => reject(r.error))));
  let out = '';
  for (const info of await idb.databases()) {
    const db = await req(idb.open(info.name!));
    for (const store of Array.from(db.objectStoreNames)) {
      const all = await req(db.transaction(store, 'readonly').objectStore(store).getAll());
      out += `\n${info.name}/${store}: ${JSON.stringify(all)}`;
    }
    db.close();
  }
  return out;
}

const SECRET = { name: '张三丰 Zhang Sanfeng', phone: '+8613800138000', text: 'my bank card is 6222021234567890123', draft: 'draft about the refund 退款' };

const conv = (over: Partial<Conversation> = {}): Conversation => ({
  id: 'c1', tenantId: 't1', inboxId: 'i1', channel: 'sms', contactId: 'k1', contactName: SECRET.name, teamId: null, status: 'open', priority: 'normal',
  assigneeId: null, labels: [], subject: null, lastMessagePreview: SECRET.text, lastMessageDirection: 'in', lastMessageAt: 1000, waitingSince: null,
  snoozedUntil: null, messageCount: 1, createdAt: 1000, updatedAt: 1000, seq: 1, ...over,
});
const msg = (over: Partial<Message> = {}): Message => ({
  id: 'm1', tenantId: 't1', conversationId: 'c1', direction: 'in', kind: 'text', authorType: 'contact', authorId: null, text: SECRET.text, subject: null,
  attachments: [], status: null, statusReason: null, deviceTime: null, serverTime: 1000, createdAt: 1000, meta: { from: SECRET.phone }, seq: 1, ...over,
});

describe('RxdbStore encryption at rest', () => {
  it('round trip: the stored documents hold no clear text, reads give the values back; a wrong key cannot read', async () => {
    const idb = new IDBFactory();
    const cipher = await deviceKeyCipher('secret-db', idb as unknown as globalThis.IDBFactory);
    const store = await RxdbStore.open({ name: 'secret-db', indexedDB: idb, IDBKeyRange, devMode: true, cipher, mirror: false });
    await store.applyFacts(
      {
        conversations: [conv()],
        messages: [msg()],
        contacts: [{ id: 'k1', tenantId: 't1', name: SECRET.name, identities: [{ channel: 'sms', identifier: SECRET.phone }], attributes: {}, createdAt: 1, updatedAt: 1, seq: 1 }],
        inboxes: [],
        agents: [],
        teams: [],
      },
      1,
      'scope',
    );
    await store.outboxPut({ id: 'o1', order: 1, command: { type: 'send_reply', id: 'o1', deviceTime: 1, conversationId: 'c1', text: SECRET.text }, state: 'pending', attempts: 0, nextAttemptAt: 0, error: null } as never);
    await store.yjsAppend('conv:c1', new TextEncoder().encode(SECRET.draft));
    await store.setMeta('note', SECRET.name);

    expect((await store.getConversation('c1'))?.contactName).toBe(SECRET.name);
    expect((await store.getMessage('m1'))?.text).toBe(SECRET.text);
    expect((await store.getContact('k1'))?.identities[0]?.identifier).toBe(SECRET.phone);
    expect((await store.outboxList())[0]).toMatchObject({ id: 'o1' });
    expect(new TextDecoder().decode((await store.yjsLoad('conv:c1'))[0])).toBe(SECRET.draft);
    expect(await store.queryConversations({ sort: 'lastActivity', limit: 10, search: 'Zhang' } as never)).toHaveLength(1);
    await store.close();

    const raw = await rawContents(idb);
    expect(raw).toContain('e1:'); // the encrypted documents are there
    for (const v of [...Object.values(SECRET), 'Zhang', '6222021234567890123', Buffer.from(SECRET.draft).toString('base64').slice(0, 16)]) {
      expect(raw.includes(v), `clear "${v}" in IndexedDB`).toBe(false);
    }

    // The same key (from IndexedDB) reads it back after reopening; another key cannot.
    const again = await RxdbStore.open({ name: 'secret-db', indexedDB: idb, IDBKeyRange, devMode: true, cipher: await deviceKeyCipher('secret-db', idb as unknown as globalThis.IDBFactory), mirror: false });
    expect((await again.getMessage('m1'))?.text).toBe(SECRET.text);
    await again.close();
    const wrong = await RxdbStore.open({ name: 'secret-db', indexedDB: idb, IDBKeyRange, devMode: true, cipher: await cipherFromRawKey(newRawKey()), mirror: false });
    await expect(wrong.getMessage('m1')).rejects.toThrow();
    await wrong.close();
  });

  it('the device key is a non-extractable CryptoKey; wipe removes the database and the key', async () => {
    const idb = new IDBFactory();
    const cipher = await deviceKeyCipher('wipe-db', idb as unknown as globalThis.IDBFactory);
    const key = (cipher as unknown as { key: CryptoKey }).key;
    expect(key.extractable).toBe(false);
    await expect(crypto.subtle.exportKey('raw', key)).rejects.toThrow();
    const store = await RxdbStore.open({
      name: 'wipe-db', indexedDB: idb, IDBKeyRange, devMode: true, cipher, mirror: false,
      onWipe: () => deleteDeviceKey('wipe-db', idb as unknown as globalThis.IDBFactory),
    });
    await store.applyFacts({ conversations: [conv()], messages: [msg()], contacts: [], inboxes: [], agents: [], teams: [] }, 1, 's');
    await store.wipe();
    const raw = await rawContents(idb);
    expect(raw).not.toContain('e1:');
    // A new key is made next time: nothing old could be read with it.
    const fresh = await deviceKeyCipher('wipe-db', idb as unknown as globalThis.IDBFactory);
    const enc = await new AesGcmCipher(key).encrypt('x');
    await expect(fresh.decrypt(enc)).rejects.toThrow();
  });

  it('retention on the device: purgeMessages deletes the messages past it (by channel)', async () => {
    const idb = new IDBFactory();
    const store = await RxdbStore.open({ name: 'ret-db', indexedDB: idb, IDBKeyRange, devMode: true, cipher: await cipherFromRawKey(newRawKey()), mirror: false });
    await store.applyFacts(
      { conversations: [conv(), conv({ id: 'c2', channel: 'email' })], messages: [msg(), msg({ id: 'm2', createdAt: 5000 }), msg({ id: 'm3', conversationId: 'c2' })], contacts: [], inboxes: [], agents: [], teams: [] },
      1,
      's',
    );
    const n = await store.purgeMessages((m, ch) => ch === 'sms' && m.createdAt < 2000);
    expect(n).toBe(1);
    expect(await store.getMessage('m1')).toBeNull();
    expect(await store.getMessage('m2')).not.toBeNull();
    expect(await store.getMessage('m3')).not.toBeNull();
    await store.close();
  });
});

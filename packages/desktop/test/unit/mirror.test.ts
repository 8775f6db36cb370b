// @vitest-environment happy-dom
import { beforeEach, describe, expect, it } from 'vitest';
import { createPinia, setActivePinia } from 'pinia';
import { useInboxStore } from '../../src/renderer/stores/inbox';
import { useSessionStore } from '../../src/renderer/stores/session';
import { conversations, flush, ME, offlineServices, useTestApp } from './testServices';

beforeEach(() => {
  setActivePinia(createPinia());
});

describe('inbox and the store’s in-memory mirror', () => {
  it('reads the window and the counts again when the mirror is loaded', async () => {
    const services = await offlineServices({ conversations: conversations(120, () => ({ assigneeId: ME.id })) });
    // An RxdbStore-like store: mirror loading, then ready.
    let ready!: (ok: boolean) => void;
    const store = services.store as typeof services.store & { mirrorState: string; mirrorLoaded: Promise<boolean> };
    store.mirrorState = 'loading';
    store.mirrorLoaded = new Promise<boolean>((r) => (ready = r));
    let queries = 0;
    let counts = 0;
    const query = store.queryConversations.bind(store);
    const count = store.countConversations.bind(store);
    store.queryConversations = (q) => (queries++, query(q));
    store.countConversations = (q) => (counts++, count(q));
    useTestApp(services);
    await useSessionStore().login('http://127.0.0.1:8787', 'me@example.com', 'pw');
    const inbox = useInboxStore();
    await inbox.bind();
    await flush();
    expect(inbox.mirror).toBe('loading');
    const [q0, c0] = [queries, counts];
    store.mirrorState = 'ready';
    ready(true);
    await flush();
    expect(inbox.mirror).toBe('ready');
    expect(queries).toBeGreaterThan(q0);
    expect(counts).toBeGreaterThan(c0);
    expect(inbox.total).toBe(120);
    inbox.unbind();
  });

  it('a store without a mirror is left alone', async () => {
    const services = await offlineServices({ conversations: conversations(5) });
    useTestApp(services);
    await useSessionStore().login('http://127.0.0.1:8787', 'me@example.com', 'pw');
    const inbox = useInboxStore();
    await inbox.bind();
    expect(inbox.mirror).toBe('off');
    inbox.unbind();
  });
});

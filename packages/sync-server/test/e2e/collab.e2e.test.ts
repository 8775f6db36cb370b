import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServerProcess } from '../support/serverProcess.js';
import { api, connectAgent, eventually, loginToken } from '../support/agentClient.js';

/** Drafts follow the agent across devices through the server (Yjs), and presence reaches colleagues. */
describe('collaborative drafts and presence over the real socket', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = new ServerProcess({ env: { GOUTONG_DEMO: '1' } });
    await server.start();
  });
  afterAll(async () => {
    await server?.stop();
    server?.cleanup();
  });

  it('a draft started on the desktop continues on the phone, survives a restart, and colleagues see who types', async () => {
    const admin = api(server.url, await loginToken(server.url, 'admin@demo.goutong'));
    const convId: string = (await admin('GET', '/api/v1/conversations?limit=1')).body.items[0].id;
    const desktop = await connectAgent(server.url, 'zhang.san@demo.goutong', 'goutong-demo', 'desktop');
    const phone = await connectAgent(server.url, 'zhang.san@demo.goutong', 'goutong-demo', 'mobile');
    const colleague = await connectAgent(server.url, 'alice@demo.goutong', 'goutong-demo', 'desktop');
    try {
      for (const c of [desktop, phone, colleague]) await eventually(() => c.client.connectivity.value.status === 'online', 'online');
      const d = desktop.client.openConversationDoc(convId);
      const seen = colleague.client.openConversationDoc(convId);
      await d.ready;
      d.draft('reply').insert(0, '您好，关于您的订单');
      d.setTyping('reply');
      const typing = await eventually(() => seen.presence().find((p) => p.name.includes('Zhang') && p.typing === 'reply'), 'colleague sees typing');
      expect(typing.device).toBe('desktop');
      // The colleague does not get zhang.san's draft as their own.
      expect(seen.draft('reply').toString()).toBe('');

      const p = phone.client.openConversationDoc(convId);
      await eventually(() => p.draft('reply').toString() === '您好，关于您的订单', 'phone has the draft');
      p.draft('reply').insert(p.draft('reply').length, '，已经发货。');
      await eventually(() => d.draft('reply').toString() === '您好，关于您的订单，已经发货。', 'desktop has the phone edit');

      // Offline edits merge when the device is back.
      phone.net.set(false);
      await eventually(() => phone.client.connectivity.value.status === 'offline', 'phone offline');
      p.draft('note').insert(0, '客户很着急');
      await server.stop();
      await server.start();
      phone.net.set(true);
      await eventually(() => d.draft('note').toString() === '客户很着急', 'offline note reaches the desktop after the restart', 30_000);
      d.release();
      p.release();
      seen.release();

      // A new device later loads the stored document from the server.
      const tablet = await connectAgent(server.url, 'zhang.san@demo.goutong', 'goutong-demo', 'tablet');
      try {
        const t = tablet.client.openConversationDoc(convId);
        await eventually(() => t.draft('reply').toString() === '您好，关于您的订单，已经发货。' && t.draft('note').toString() === '客户很着急', 'tablet loads the draft');
        t.release();
      } finally {
        await tablet.client.stop();
      }
    } finally {
      await desktop.client.stop();
      await phone.client.stop();
      await colleague.client.stop();
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServerProcess } from '../support/serverProcess.js';
import { api, connectAgent, eventually, loginToken } from '../support/agentClient.js';

/** Text that does not shrink (each 1 KiB line differs), ASCII so bytes = characters. */
function bulk(bytes: number): string {
  let out = '';
  for (let i = 0; out.length < bytes; i++) out += `${String(i).padStart(8, '0')} ${'客户来电记录'.length}${'x'.repeat(1014)}\n`;
  return out.slice(0, bytes);
}

/**
 * A device that wrote more than one socket frame's worth (1 MiB) of draft while offline still
 * syncs when it is back: the server takes sync messages up to the document quota (2 MiB), so the
 * reconnect's step 2 is not closed with 1009 over and over.
 */
describe('large offline draft edits', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = new ServerProcess({ env: { GOUTONG_DEMO: '1' } });
    await server.start();
  });
  afterAll(async () => {
    await server?.stop();
    server?.cleanup();
  });

  it('a device with more than 1 MiB of offline edits converges with the other devices', async () => {
    const admin = api(server.url, await loginToken(server.url, 'admin@demo.goutong'));
    const convId: string = (await admin('GET', '/api/v1/conversations?limit=1')).body.items[0].id;
    const desktop = await connectAgent(server.url, 'zhang.san@demo.goutong', 'goutong-demo', 'desktop');
    const phone = await connectAgent(server.url, 'zhang.san@demo.goutong', 'goutong-demo', 'mobile');
    try {
      for (const c of [desktop, phone]) await eventually(() => c.client.connectivity.value.status === 'online', 'online');
      const d = desktop.client.openConversationDoc(convId);
      const p = phone.client.openConversationDoc(convId);
      await d.ready;
      await p.ready;
      d.draft('reply').insert(0, '开头');
      await eventually(() => p.draft('reply').toString() === '开头', 'the phone has the desktop draft');

      phone.net.set(false);
      await eventually(() => phone.client.connectivity.value.status === 'offline', 'phone offline');
      const big = bulk(1_300_000);
      p.draft('note').insert(0, big);
      p.draft('reply').insert(2, '（离线）');
      phone.net.set(true);

      await eventually(() => d.draft('note').length === big.length, 'the desktop has the 1.3 MB offline note', 30_000);
      expect(d.draft('note').toString()).toBe(big);
      await eventually(() => d.draft('reply').toString() === '开头（离线）', 'the desktop has the small offline edit too');
      expect(phone.client.connectivity.value.status).toBe('online');
      d.release();
      p.release();

      // Stored: a new device loads the whole document from the server.
      const tablet = await connectAgent(server.url, 'zhang.san@demo.goutong', 'goutong-demo', 'tablet');
      try {
        const t = tablet.client.openConversationDoc(convId);
        await eventually(() => t.draft('note').length === big.length, 'the tablet loads the large draft', 30_000);
        t.release();
      } finally {
        await tablet.client.stop();
      }
    } finally {
      await desktop.client.stop();
      await phone.client.stop();
    }
  });
});

// Supervisor listen/whisper grants: only a principal with calls.monitor gets one (core
// mayMonitorCalls), for a colleague with a line; the monitored agent's softphone verifies the grant
// before it auto-answers, and anything else (another agent, a forged or altered grant, a supervisor
// who lost the permission) is refused.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sipVoiceProvider } from '../../src/channels/voice/index.js';
import { createTenant } from '../../src/seed.js';
import { api, loginToken } from '../support/agentClient.js';
import { startChannelServer, type ChannelServer } from '../channels/support.js';

describe('supervisor monitor grants', () => {
  let s: ChannelServer;
  let sup: ReturnType<typeof api>;
  let agent: ReturnType<typeof api>;
  let other: ReturnType<typeof api>;
  let admin: ReturnType<typeof api>;
  let ids: Record<string, string>;
  const pw = 'monitor-test-pw';

  beforeAll(async () => {
    s = await startChannelServer({ providers: [sipVoiceProvider({ ivrReconcileMs: 60_000, transcriptionIntervalMs: 60_000 })] });
    const slug = `m${crypto.randomBytes(4).toString('hex')}`;
    const t = await createTenant(s.server.workspace, {
      slug,
      name: 'Monitor',
      teams: ['Support'],
      agents: [
        { email: `admin@${slug}.test`, name: 'Admin', role: 'admin', teams: ['Support'], password: pw },
        { email: `sup@${slug}.test`, name: 'Li Wei', role: 'supervisor', teams: ['Support'], password: pw },
        { email: `a@${slug}.test`, name: 'Alice', role: 'agent', teams: ['Support'], password: pw },
        { email: `b@${slug}.test`, name: 'Bob', role: 'agent', teams: ['Support'], password: pw },
      ],
    });
    ids = Object.fromEntries(Object.values(t.agents).map((a) => [a.name, a.id]));
    const tok = (who: string) => loginToken(s.url, `${who}@${slug}.test`, pw);
    admin = api(s.url, await tok('admin'));
    sup = api(s.url, await tok('sup'));
    agent = api(s.url, await tok('a'));
    other = api(s.url, await tok('b'));
    const r = await admin('POST', '/api/v1/inboxes', {
      name: 'Phones',
      channel: 'voice',
      provider: 'sip',
      config: { wsUrl: 'ws://127.0.0.1:1', domain: 'lab.test', agents: { [`sup@${slug}.test`]: '1009', [`a@${slug}.test`]: '1001', [`b@${slug}.test`]: '1002' } },
      secrets: {},
      teamIds: [t.teamIds.Support],
    });
    expect(r.status).toBe(201);
  }, 60_000);
  afterAll(async () => {
    await s?.close();
  });

  it('a supervisor gets a grant to call the agent; the agent verifies it and learns who and how', async () => {
    const g = await sup('POST', '/api/v1/voice/monitor', { agentId: ids.Alice, mode: 'whisper' });
    expect(g.status).toBe(201);
    expect(g.body).toMatchObject({ target: '1001', mode: 'whisper', token: expect.any(String) });
    const v = await agent('POST', '/api/v1/voice/monitor/verify', { token: g.body.token });
    expect(v.status).toBe(200);
    expect(v.body).toEqual({ supervisorId: ids['Li Wei'], supervisorName: 'Li Wei', mode: 'whisper' });
  });

  it('an agent without calls.monitor gets no grant; a grant is for its agent only; forged ones are refused', async () => {
    const denied = await other('POST', '/api/v1/voice/monitor', { agentId: ids.Alice, mode: 'listen' });
    expect(denied.status).toBe(403);
    expect(JSON.stringify(denied.body)).toMatch(/calls\.monitor/);
    expect((await sup('POST', '/api/v1/voice/monitor', { agentId: ids['Li Wei'], mode: 'listen' })).status).toBe(403);
    expect((await sup('POST', '/api/v1/voice/monitor', { agentId: 'nobody', mode: 'listen' })).status).toBe(404);
    expect((await sup('POST', '/api/v1/voice/monitor', { agentId: ids.Alice, mode: 'shout' })).status).toBe(400);
    const g = await sup('POST', '/api/v1/voice/monitor', { agentId: ids.Alice, mode: 'listen' });
    // Bob's softphone does not accept Alice's grant
    expect((await other('POST', '/api/v1/voice/monitor/verify', { token: g.body.token })).status).toBe(403);
    // an altered grant (whisper instead of listen) fails its signature
    const [body, mac] = String(g.body.token).split('.');
    const altered = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body!, 'base64url').toString()), m: 'whisper' })).toString('base64url');
    expect((await agent('POST', '/api/v1/voice/monitor/verify', { token: `${altered}.${mac}` })).status).toBe(403);
    expect((await agent('POST', '/api/v1/voice/monitor/verify', { token: 'not-a-grant-at-all' })).status).toBe(403);
  });

  it('every grant and every refusal is in the audit trail, with who, whom and how', async () => {
    const g = await sup('POST', '/api/v1/voice/monitor', { agentId: ids.Alice, mode: 'whisper' });
    expect(g.status).toBe(201);
    expect((await other('POST', '/api/v1/voice/monitor', { agentId: ids.Alice, mode: 'listen' })).status).toBe(403);
    const r = await admin('GET', '/api/v1/audit-events?action=call.monitor*');
    expect(r.status).toBe(200);
    const items = (r.body as { items: Array<{ actorId: string; action: string; target: string; details: Record<string, unknown> }> }).items;
    expect(items.find((e) => e.action === 'call.monitor' && e.actorId === ids['Li Wei'] && e.details.mode === 'whisper')).toMatchObject({ target: ids.Alice });
    const refused = items.find((e) => e.action === 'call.monitor.refused' && e.actorId === ids.Bob);
    expect(refused).toMatchObject({ target: ids.Alice, details: { mode: 'listen', reason: expect.stringMatching(/calls\.monitor/) } });
  });

  it('a supervisor demoted after the grant is refused at verification', async () => {
    const g = await sup('POST', '/api/v1/voice/monitor', { agentId: ids.Alice, mode: 'listen' });
    expect(g.status).toBe(201);
    expect((await admin('PATCH', `/api/v1/agents/${ids['Li Wei']}`, { role: 'agent' })).status).toBe(200);
    expect((await agent('POST', '/api/v1/voice/monitor/verify', { token: g.body.token })).status).toBe(403);
  });
});

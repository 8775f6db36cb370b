import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createInbox, createTenant } from '../src/seed.js';
import { api, eventually, loginToken, syncDevice } from './support/agentClient.js';
import { startTestServer } from './support/inProcess.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;


async function closeDevice(ws: WebSocket): Promise<void> {
  if (ws.readyState === ws.CLOSED) return;
  await new Promise<void>((r) => {
    ws.on('close', () => r());
    ws.close();
  });
}

let tenantSeq = 0;

/** A tenant of its own: an admin, a supervisor and agents a1..aN in team Support, an api inbox of Support. */
async function workspaceWith(s: Server, n: number) {
  const slug = `rt${++tenantSeq}${Date.now().toString(36)}`;
  const email = (who: string) => `${who}@${slug}.test`;
  const t = await createTenant(s.workspace, {
    slug, name: slug, teams: ['Support'],
    agents: [
      { email: email('admin'), name: 'Admin', role: 'admin', teams: [], password: 'pw-routing-1' },
      { email: email('sup'), name: 'Sup', role: 'supervisor', teams: ['Support'], password: 'pw-routing-1' },
      ...Array.from({ length: n }, (_, i) => ({ email: email(`a${i + 1}`), name: `Agent ${i + 1}`, role: 'agent' as const, teams: ['Support'], password: 'pw-routing-1' })),
    ],
  });
  const inboxId = await createInbox(s.workspace, s.secret, { tenantId: t.tenantId, name: 'Web', channel: 'api', teamIds: [t.teamIds.Support!] });
  const token = (who: string) => loginToken(s.url, email(who), 'pw-routing-1');
  const admin = api(s.url, await token('admin'));
  const agents = Array.from({ length: n }, (_, i) => t.agents[email(`a${i + 1}`)]!);
  let ext = 0;
  const inbound = async (from: string, text = 'hello') => {
    const inbox = (await s.workspace.inbox(t.tenantId, inboxId))!;
    return (await s.workspace.ingestInbound(inbox, { externalId: `ext-${slug}-${++ext}`, from: { identifier: from, name: from }, text })).conversation.id;
  };
  const conv = async (id: string) => (await admin('GET', `/api/v1/conversations/${id}`)).body;
  return { ...t, slug, email, inboxId, token, admin, agents, inbound, conv };
}

describe.each([['sqlite'], ['postgres']] as const)('routing on %s', (dialect) => {
  let s: Server;
  const sockets: WebSocket[] = [];
  beforeAll(async () => {
    s = await startTestServer(dialect, { GOUTONG_TEST_CLOCK: path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'gt-clock-')), 'clock'), GOUTONG_OPS_INTERVAL_MS: '50' });
  });
  afterAll(async () => {
    for (const ws of sockets) await closeDevice(ws);
    await s?.stopAll();
  });
  const online = async (url: string, token: string) => {
    const ws = await syncDevice(url, token);
    sockets.push(ws);
    return ws;
  };

  it('agents carry availability and capacity; their devices make them online and offline', async () => {
    const w = await workspaceWith(s, 1);
    const a1 = w.agents[0]!;
    const list = async () => (await w.admin('GET', '/api/v1/agents')).body.items.find((x: any) => x.id === a1.id);
    expect(await list()).toMatchObject({ availability: 'offline', capacity: null });
    const t1 = await w.token('a1');
    const d1 = await online(s.url, t1);
    const d2 = await online(s.url, t1);
    await eventually(async () => (await list()).availability === 'online', 'a1 online');
    await closeDevice(d1);
    // One device is still connected: still online.
    await new Promise((r) => setTimeout(r, 200));
    expect((await list()).availability).toBe('online');
    await closeDevice(d2);
    await eventually(async () => (await list()).availability === 'offline', 'a1 offline after the last device');
  });

  it('availability PATCH: an agent for itself only, admins for anyone; a call makes busy; bad input 400', async () => {
    const w = await workspaceWith(s, 2);
    const [a1, a2] = w.agents as [any, any];
    const me = api(s.url, await w.token('a1'));
    const sup = api(s.url, await w.token('sup'));
    await online(s.url, await w.token('a1'));
    await eventually(async () => (await me('GET', '/api/v1/agents')).body.items.find((x: any) => x.id === a1.id).availability === 'online', 'online');
    expect((await me('PATCH', `/api/v1/agents/${a1.id}`, { availability: 'away' })).body).toMatchObject({ id: a1.id, availability: 'away', chosenAvailability: 'away' });
    expect((await me('PATCH', `/api/v1/agents/${a2.id}`, { availability: 'away' })).status).toBe(403);
    expect((await sup('PATCH', `/api/v1/agents/${a2.id}`, { availability: 'away' })).status).toBe(403);
    expect((await me('PATCH', `/api/v1/agents/${a1.id}`, { capacity: 3 })).status).toBe(403);
    expect((await me('PATCH', `/api/v1/agents/${a1.id}`, { availability: 'online', onCall: true })).body).toMatchObject({ availability: 'busy' });
    expect((await me('PATCH', `/api/v1/agents/${a1.id}`, { onCall: false })).body).toMatchObject({ availability: 'online' });
    // `me`, and POST for clients that cannot PATCH (mini programs).
    expect((await me('POST', '/api/v1/agents/me/availability', { availability: 'away' })).body).toMatchObject({ id: a1.id, availability: 'away' });
    expect((await me('PATCH', '/api/v1/agents/me', { availability: 'online' })).body).toMatchObject({ id: a1.id, availability: 'online' });
    const byAdmin = await w.admin('PATCH', `/api/v1/agents/${a2.id}`, { capacity: { sms: 5, email: 10 }, skills: ['vip'], languages: ['zh'], availability: 'online' });
    expect(byAdmin.status).toBe(200);
    expect(byAdmin.body).toMatchObject({ capacity: { sms: 5, email: 10 }, skills: ['vip'], languages: ['zh'], availability: 'offline', chosenAvailability: 'online' });
    const listed = (await me('GET', '/api/v1/agents')).body.items.find((x: any) => x.id === a2.id);
    expect(listed).toMatchObject({ availability: 'offline', capacity: { sms: 5, email: 10 } });
    for (const bad of [{ capacity: 0 }, { capacity: { sms: 0 } }, { availability: 'sleeping' }, { capacity: { fax: 1 } }, { skills: 'vip' }]) {
      const r = await w.admin('PATCH', `/api/v1/agents/${a2.id}`, bad);
      expect(r.status, JSON.stringify(bad)).toBe(400);
      expect(r.body.error).toMatchObject({ code: 'bad_request', message: expect.any(String) });
    }
    expect((await w.admin('PATCH', '/api/v1/agents/nobody', { availability: 'online' })).status).toBe(404);
    // The grace period: a tenant setting (admins); 5 minutes until set (GOUTONG_ROUTING_GRACE_MS of a server process overrides it).
    expect((await w.admin('GET', '/api/v1/routing/settings')).body).toEqual({ graceMinutes: 5, source: 'default' });
    expect((await w.admin('PATCH', '/api/v1/routing/settings', { graceMinutes: 3 })).body).toEqual({ graceMinutes: 3, source: 'tenant' });
    expect((await w.admin('PATCH', '/api/v1/routing/settings', { graceMinutes: -1 })).status).toBe(400);
    expect((await me('PATCH', '/api/v1/routing/settings', { graceMinutes: 3 })).status).toBe(403);
    expect((await sup('GET', '/api/v1/routing/settings')).body).toEqual({ graceMinutes: 3, source: 'tenant' });
    // Inbox routing settings: unknown strategy and capacity < 1 are refused too.
    expect((await w.admin('PATCH', `/api/v1/inboxes/${w.inboxId}`, { routing: { strategy: 'lottery' } })).status).toBe(400);
    expect((await w.admin('PATCH', `/api/v1/inboxes/${w.inboxId}`, { routing: { strategy: 'least_loaded', capacity: 0 } })).status).toBe(400);
  });

  it('round robin over three online agents assigns 1-2-3-1', async () => {
    const w = await workspaceWith(s, 3);
    expect((await w.admin('PATCH', `/api/v1/inboxes/${w.inboxId}`, { routing: { strategy: 'round_robin' } })).status).toBe(200);
    for (const who of ['a1', 'a2', 'a3']) await online(s.url, await w.token(who));
    await eventually(async () => (await w.admin('GET', '/api/v1/agents')).body.items.filter((x: any) => x.availability === 'online').length === 3, 'three online');
    const got: string[] = [];
    for (let i = 0; i < 4; i++) {
      const id = await w.inbound(`+8613800000${i}`);
      const c = await eventually(async () => (await w.conv(id)).assigneeId && (await w.conv(id)), `conversation ${i} routed`);
      got.push(c.assigneeId);
    }
    const ids = w.agents.map((a) => a.id).sort();
    expect(got).toEqual([ids[0], ids[1], ids[2], ids[0]]);
  });

  it('a team routes by its own settings (they win over the inbox settings): its waiting conversations are routed', async () => {
    const w = await workspaceWith(s, 2);
    const teamId = w.teamIds.Support!;
    // The inbox (of team Support) routes manually: a new conversation waits in the team's queue, unassigned.
    const c = await w.inbound('+8613900000077', 'please help');
    expect(await w.conv(c)).toMatchObject({ assigneeId: null, teamId });
    expect((await w.admin('GET', `/api/v1/teams/${teamId}/routing`)).body).toEqual({ routing: null });
    expect((await w.admin('PATCH', `/api/v1/teams/${teamId}/routing`, { routing: { strategy: 'lottery' } })).status).toBe(400);
    expect((await w.admin('PATCH', '/api/v1/teams/no-such-team/routing', { routing: { strategy: 'round_robin' } })).status).toBe(404);
    const a1 = api(s.url, await w.token('a1'));
    expect((await a1('PATCH', `/api/v1/teams/${teamId}/routing`, { routing: { strategy: 'round_robin' } })).status).toBe(403);
    expect((await w.admin('PATCH', `/api/v1/teams/${teamId}/routing`, { routing: { strategy: 'round_robin' } })).body).toEqual({ routing: { strategy: 'round_robin' } });
    // Agents come online: the team's round robin offers the waiting conversation to the first.
    for (const who of ['a1', 'a2']) await online(s.url, await w.token(who));
    const ids = w.agents.map((a) => a.id).sort();
    expect(await eventually(async () => (await w.conv(c)).assigneeId, 'routed by the team')).toBe(ids[0]);
    // A supervisor puts it back in the team's queue: round robin goes on to the next agent.
    const sup = api(s.url, await w.token('sup'));
    const moved = await sup('POST', '/api/v1/commands', { commands: [{ id: s.workspace.ids.next(), deviceTime: Date.now(), type: 'assign', conversationId: c, assigneeId: null, teamId }] });
    expect(moved.body.results[0].outcome).toBe('applied');
    expect(await eventually(async () => ((await w.conv(c)).assigneeId === ids[1] ? ids[1] : null), 're-routed to the next')).toBe(ids[1]);
    // Without the team's routing, the inbox's (manual) applies again: a new conversation waits.
    expect((await w.admin('PATCH', `/api/v1/teams/${teamId}/routing`, { routing: null })).body).toEqual({ routing: null });
    const later = await w.inbound('+8613900000078', 'hello again');
    await s.ops.drain();
    expect((await w.conv(later)).assigneeId).toBeNull();
  });

  it('least-loaded with capacity; the queue waits and is offered when an agent frees capacity; supervisors see it', async () => {
    const w = await workspaceWith(s, 2);
    await w.admin('PATCH', `/api/v1/inboxes/${w.inboxId}`, { routing: { strategy: 'least_loaded', capacity: 1 } });
    const [a1, a2] = w.agents as [any, any];
    await online(s.url, await w.token('a1'));
    await online(s.url, await w.token('a2'));
    await eventually(async () => (await w.admin('GET', '/api/v1/agents')).body.items.filter((x: any) => x.availability === 'online').length === 2, 'two online');
    const c1 = await w.inbound('+861');
    const c2 = await w.inbound('+862');
    const first = await eventually(async () => (await w.conv(c1)).assigneeId, 'c1 routed');
    const second = await eventually(async () => (await w.conv(c2)).assigneeId, 'c2 routed');
    expect(new Set([first, second])).toEqual(new Set([a1.id, a2.id]));
    // Both full (capacity 1): the third waits in the queue, unassigned with its team.
    const c3 = await w.inbound('+863');
    const sup = api(s.url, await w.token('sup'));
    const queue = await eventually(async () => {
      const q = (await sup('GET', '/api/v1/queues')).body.items.find((x: any) => x.inboxId === w.inboxId);
      return q?.waiting === 1 && q;
    }, 'the queue shows c3');
    expect(queue).toMatchObject({ teamId: w.teamIds.Support, waiting: 1, strategy: 'least_loaded', unassigned: [expect.objectContaining({ id: c3 })] });
    expect(queue.agents).toEqual(expect.arrayContaining([expect.objectContaining({ id: a1.id, availability: 'online', load: 1, capacity: 1 })]));
    expect((await w.conv(c3)).assigneeId).toBeNull();
    expect((await api(s.url, await w.token('a1'))('GET', '/api/v1/queues')).status).toBe(403);
    // The agent of c1 resolves it: c3 goes to them.
    const owner = api(s.url, await w.token(first === a1.id ? 'a1' : 'a2'));
    expect((await owner('PATCH', `/api/v1/conversations/${c1}`, { status: 'resolved' })).status).toBe(200);
    expect(await eventually(async () => (await w.conv(c3)).assigneeId, 'c3 routed after capacity freed')).toBe(first);
  });

  it('skills: a VIP contact goes to the agent with skill vip', async () => {
    const w = await workspaceWith(s, 2);
    await w.admin('PATCH', `/api/v1/inboxes/${w.inboxId}`, { routing: { strategy: 'least_loaded' } });
    const [, a2] = w.agents as [any, any];
    await w.admin('PATCH', `/api/v1/agents/${a2.id}`, { skills: ['vip'] });
    await online(s.url, await w.token('a1'));
    await online(s.url, await w.token('a2'));
    await eventually(async () => (await w.admin('GET', '/api/v1/agents')).body.items.filter((x: any) => x.availability === 'online').length === 2, 'two online');
    // a2 carries more load, so least-loaded alone would pick a1 ...
    const warm = await w.inbound('+8690');
    await eventually(async () => (await w.conv(warm)).assigneeId, 'warm-up routed');
    expect((await w.admin('PATCH', `/api/v1/conversations/${warm}`, { assigneeId: a2.id })).status).toBe(200);
    const vipFirst = await w.inbound('+8699', 'first');
    expect(await eventually(async () => (await w.conv(vipFirst)).assigneeId, 'vip first routed')).not.toBe(a2.id);
    // ... but the customer is a VIP (contact attribute tier: vip): the next conversation goes to a2.
    const contactId = (await w.conv(vipFirst)).contactId;
    const ws = s.workspace;
    const tenantAdmin = (await ws.agents(w.tenantId)).find((a) => a.role === 'admin')!;
    await ws.applyCommand(tenantAdmin, { type: 'update_contact', id: ws.ids.next(), deviceTime: Date.now(), contactId, attributes: { tier: 'vip' } });
    await w.admin('PATCH', `/api/v1/conversations/${vipFirst}`, { status: 'closed' });
    const vip = await w.inbound('+8699', 'again');
    expect(vip).not.toBe(vipFirst);
    expect(await eventually(async () => (await w.conv(vip)).assigneeId, 'vip routed')).toBe(a2.id);
  });

  it('grace: a reconnect within the grace period keeps the assignment; after it the conversation is released and routed to someone online', async () => {
    const w = await workspaceWith(s, 2);
    // This tenant's grace period: 10 minutes.
    expect((await w.admin('PATCH', '/api/v1/routing/settings', { graceMinutes: 10 })).status).toBe(200);
    await w.admin('PATCH', `/api/v1/inboxes/${w.inboxId}`, { routing: { strategy: 'round_robin' } });
    const [a1, a2] = w.agents as [any, any];
    const agentState = async (id: string) => (await w.admin('GET', '/api/v1/agents')).body.items.find((x: any) => x.id === id).availability;
    let d1 = await online(s.url, await w.token('a1'));
    await eventually(async () => (await agentState(a1.id)) === 'online', 'a1 online');
    const c = await w.inbound('+8677');
    expect(await eventually(async () => (await w.conv(c)).assigneeId, 'routed')).toBe(a1.id);
    await closeDevice(d1);
    await eventually(async () => (await agentState(a1.id)) === 'offline', 'a1 offline');
    d1 = await online(s.url, await w.token('a1'));
    await eventually(async () => (await agentState(a1.id)) === 'online', 'a1 back');
    await w.admin('POST', '/api/v1/test/clock', { advanceMs: 11 * 60_000 });
    await s.ops.drain();
    expect((await w.conv(c)).assigneeId).toBe(a1.id);
    // Gone for good: released after the grace period, and a2 (online) gets it.
    await online(s.url, await w.token('a2'));
    await eventually(async () => (await agentState(a2.id)) === 'online', 'a2 online');
    await closeDevice(d1);
    await eventually(async () => (await agentState(a1.id)) === 'offline', 'a1 offline again');
    await s.ops.drain();
    expect((await w.conv(c)).assigneeId).toBe(a1.id);
    // Past the default 5 minutes but within the tenant's 10: still a1's.
    await w.admin('POST', '/api/v1/test/clock', { advanceMs: 9 * 60_000 });
    await s.ops.drain();
    expect((await w.conv(c)).assigneeId).toBe(a1.id);
    await w.admin('POST', '/api/v1/test/clock', { advanceMs: 2 * 60_000 });
    expect(await eventually(async () => (await w.conv(c)).assigneeId === a2.id && a2.id, 'released and re-routed')).toBe(a2.id);
    const msgs = (await w.admin('GET', `/api/v1/conversations/${c}/messages?limit=50`)).body.items;
    expect(msgs.filter((m: any) => m.text === 'released: agent offline')).toHaveLength(1);
  });
});

import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloseCode } from '@goutong/core';
import { api, connectAgent, eventually, loginToken } from '../support/agentClient.js';
import { startTestServer, type Dialect } from '../support/inProcess.js';
import { totp } from '../../src/auth/totp.js';

const json = (body: unknown) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** A raw sync socket authenticated with the token; resolves with its close code when it closes. */
async function openSocket(url: string, token: string): Promise<{ closed: Promise<{ code: number; frames: string[] }> }> {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/sync`);
  const frames: string[] = [];
  const ready = new Promise<void>((resolve, reject) => {
    ws.on('message', (d) => {
      frames.push(String(d));
      if (String(d).includes('"ready"')) resolve();
    });
    ws.on('error', reject);
  });
  const closed = new Promise<{ code: number; frames: string[] }>((resolve) => ws.on('close', (code) => resolve({ code, frames })));
  await new Promise<void>((r) => ws.on('open', () => r()));
  ws.send(JSON.stringify({ t: 'auth', token }));
  await ready;
  return { closed };
}

describe.each([['sqlite'], ['postgres']] as [Dialect][])('accounts: invites, edits, deactivation, passwords, sessions (%s)', (dialect) => {
  let s: Awaited<ReturnType<typeof startTestServer>>;
  let admin: ReturnType<typeof api>;
  let teamId: string;

  beforeAll(async () => {
    s = await startTestServer(dialect);
    admin = api(s.url, await loginToken(s.url, 'admin@demo.goutong'));
    teamId = (await admin('GET', '/api/v1/teams')).body.items[0].id;
  });
  afterAll(async () => s?.stopAll());

  it('an invite link works once, sets the password, and only admins invite', async () => {
    const zhang = api(s.url, await loginToken(s.url, 'zhang.san@demo.goutong'));
    expect((await zhang('POST', '/api/v1/agents', { name: 'X', email: 'x@demo.goutong' })).status).toBe(403);
    expect((await admin('POST', '/api/v1/agents', { name: 'X', email: 'not-an-email' })).status).toBe(400);
    expect((await admin('POST', '/api/v1/agents', { name: 'Dup', email: 'zhang.san@demo.goutong' })).status).toBe(409);
    const inv = await admin('POST', '/api/v1/agents', { name: '王五 Wang Wu', email: 'wang.wu@demo.goutong', role: 'agent', teamIds: [teamId] });
    expect(inv.status).toBe(201);
    expect(inv.body.agent).toMatchObject({ email: 'wang.wu@demo.goutong', role: 'agent', teamIds: [teamId], active: true });
    expect(inv.body.inviteUrl).toContain(encodeURIComponent(inv.body.inviteToken));
    // The invited agent cannot sign in before accepting.
    expect((await fetch(`${s.url}/api/v1/auth/login`, json({ email: 'wang.wu@demo.goutong', password: 'whatever-password' }))).status).toBe(401);
    expect((await fetch(`${s.url}/api/v1/auth/accept-invite`, json({ token: inv.body.inviteToken, password: 'short' }))).status).toBe(400);
    const ok = await fetch(`${s.url}/api/v1/auth/accept-invite`, json({ token: inv.body.inviteToken, password: 'wang-wu-password-1' }));
    expect(ok.status).toBe(200);
    const again = await fetch(`${s.url}/api/v1/auth/accept-invite`, json({ token: inv.body.inviteToken, password: 'another-password-2' }));
    expect(again.status).toBe(401);
    expect(await loginToken(s.url, 'wang.wu@demo.goutong', 'wang-wu-password-1')).toEqual(expect.any(String));
    await expect(loginToken(s.url, 'wang.wu@demo.goutong', 'another-password-2')).rejects.toThrow(/401/);
    const actions = (await s.db.all<{ action: string }>("SELECT action FROM audit_log WHERE target = ? ORDER BY id", [inv.body.agent.id])).map((r) => r.action);
    // Failed sign-ins are in the trail too (before accepting, and with the refused second password).
    expect(actions).toEqual(['agent.invite', 'auth.login_failed', 'agent.invite_accepted', 'auth.login', 'auth.login_failed']);
  });

  it('the OpenAPI document describes the account routes (and keeps the agents list)', async () => {
    const doc = (await (await fetch(`${s.url}/api/v1/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(doc.paths['/api/v1/agents']!).sort()).toEqual(['get', 'post']);
    for (const p of ['/api/v1/agents/{id}', '/api/v1/auth/accept-invite', '/api/v1/auth/mfa', '/api/v1/me/sessions', '/api/v1/me/mfa/setup', '/api/v1/contacts/{id}/export', '/api/v1/contacts/{id}/erase', '/api/v1/settings/retention']) {
      expect(doc.paths[p], p).toBeDefined();
    }
  });

  it('an expired invite does not work', async () => {
    const inv = await admin('POST', '/api/v1/agents', { name: 'Late', email: 'late@demo.goutong' });
    await s.db.run('UPDATE agent_tokens SET expires_at = ? WHERE agent_id = ?', [Date.now() - 1, inv.body.agent.id]);
    expect((await fetch(`${s.url}/api/v1/auth/accept-invite`, json({ token: inv.body.inviteToken, password: 'late-password-123' }))).status).toBe(401);
  });

  it('PATCH edits name, role and teams; refuses bad input, unknown teams and removing the last admin', async () => {
    const me = (await admin('GET', '/api/v1/me')).body.agent;
    const agents = (await admin('GET', '/api/v1/agents')).body.items as { id: string; email: string }[];
    const zhang = agents.find((a) => a.email === 'zhang.san@demo.goutong')!;
    expect((await admin('PATCH', `/api/v1/agents/${zhang.id}`, { role: 'king' })).status).toBe(400);
    expect((await admin('PATCH', `/api/v1/agents/${zhang.id}`, { colour: 'red' })).status).toBe(400);
    expect((await admin('PATCH', `/api/v1/agents/${zhang.id}`, { teamIds: ['no-such-team'] })).status).toBe(400);
    expect((await admin('PATCH', `/api/v1/agents/${me.id}`, { active: false })).status).toBe(409);
    expect((await admin('PATCH', `/api/v1/agents/${me.id}`, { role: 'agent' })).status).toBe(409);
    const r = await admin('PATCH', `/api/v1/agents/${zhang.id}`, { name: '张三 San', role: 'supervisor', teamIds: [teamId] });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ name: '张三 San', role: 'supervisor' });
    expect((await admin('PATCH', `/api/v1/agents/${zhang.id}`, { role: 'agent' })).body.role).toBe('agent');
    const zhangApi = api(s.url, await loginToken(s.url, 'zhang.san@demo.goutong'));
    expect((await zhangApi('PATCH', `/api/v1/agents/${me.id}`, { name: 'Hacked' })).status).toBe(403);
  });

  it('deactivation ends a live socket (wipe) and the next request, the device wipes; reactivation lets them back', async () => {
    const agents = (await admin('GET', '/api/v1/agents')).body.items as { id: string; email: string }[];
    const li = agents.find((a) => a.email === 'li.wei@demo.goutong')!;
    const token = await loginToken(s.url, 'li.wei@demo.goutong');
    const sock = await openSocket(s.url, token);
    const device = await connectAgent(s.url, 'li.wei@demo.goutong', 'goutong-demo', 'phone');
    await eventually(async () => (await device.store.queryConversations({ sort: 'lastActivity', limit: 50 })).length > 0, 'the device pulled conversations');

    const r = await admin('PATCH', `/api/v1/agents/${li.id}`, { active: false });
    expect(r.status).toBe(200);
    expect(r.body.active).toBe(false);
    const closed = await sock.closed;
    expect(closed.code).toBe(CloseCode.wipe);
    expect(closed.frames.some((f) => f.includes('"wipe"'))).toBe(true);
    const next = await api(s.url, token)('GET', '/api/v1/conversations');
    expect(next.status).toBe(401);
    expect(next.body.error.details).toEqual({ wipe: true });
    // The device erased its local data and counts as signed out.
    await eventually(() => device.client.connectivity.value.wiped === true, 'the device wiped');
    expect(await device.store.queryConversations({ sort: 'lastActivity', limit: 50 })).toEqual([]);
    expect(await device.store.getCheckpoint()).toEqual({ checkpoint: 0, scope: null });
    expect(device.client.connectivity.value.sessionExpired).toBe(true);
    // Login refused while deactivated, accepted again after reactivation.
    expect((await fetch(`${s.url}/api/v1/auth/login`, json({ email: 'li.wei@demo.goutong', password: 'goutong-demo' }))).status).toBe(401);
    expect((await admin('PATCH', `/api/v1/agents/${li.id}`, { active: true })).body.active).toBe(true);
    expect(await loginToken(s.url, 'li.wei@demo.goutong')).toEqual(expect.any(String));
    const actions = (await s.db.all<{ action: string }>('SELECT action FROM audit_log WHERE target = ? ORDER BY id', [li.id])).map((x) => x.action);
    expect(actions).toEqual(expect.arrayContaining(['agent.deactivate', 'agent.reactivate']));
  });

  it('password change ends the other sessions; an admin reset link works once and ends all sessions', async () => {
    const a = await loginToken(s.url, 'alice@demo.goutong');
    const b = await loginToken(s.url, 'alice@demo.goutong');
    const sockB = await openSocket(s.url, b);
    expect((await api(s.url, a)('POST', '/api/v1/me/password', { currentPassword: 'wrong', newPassword: 'alice-new-password-1' })).status).toBe(403);
    const ch = await api(s.url, a)('POST', '/api/v1/me/password', { currentPassword: 'goutong-demo', newPassword: 'alice-new-password-1' });
    expect(ch.status).toBe(200);
    expect(ch.body.sessionsEnded).toBe(1);
    expect((await sockB.closed).code).toBe(CloseCode.unauthorized);
    expect((await api(s.url, b)('GET', '/api/v1/me')).status).toBe(401);
    expect((await api(s.url, a)('GET', '/api/v1/me')).status).toBe(200);

    const alice = (await api(s.url, a)('GET', '/api/v1/me')).body.agent;
    const reset = await admin('POST', `/api/v1/agents/${alice.id}/password-reset`);
    expect(reset.status).toBe(200);
    expect((await fetch(`${s.url}/api/v1/auth/reset-password`, json({ token: reset.body.resetToken, password: 'alice-reset-password-2' }))).status).toBe(200);
    expect((await fetch(`${s.url}/api/v1/auth/reset-password`, json({ token: reset.body.resetToken, password: 'alice-reset-password-3' }))).status).toBe(401);
    expect((await api(s.url, a)('GET', '/api/v1/me')).status).toBe(401);
    expect(await loginToken(s.url, 'alice@demo.goutong', 'alice-reset-password-2')).toEqual(expect.any(String));
  });

  it('sessions list with device, platform, IP; ending one from another device wipes that device; admins see any agent', async () => {
    const login = async (deviceName: string, platform: string) =>
      (await (await fetch(`${s.url}/api/v1/auth/login`, json({ email: 'zhang.san@demo.goutong', password: 'goutong-demo', deviceName, platform }))).json()) as { accessToken: string };
    const desktop = await login('Office PC', 'windows');
    const phone = await login('Zhang phone', 'android');
    const phoneSock = await openSocket(s.url, phone.accessToken);
    const list = await api(s.url, desktop.accessToken)('GET', '/api/v1/me/sessions');
    expect(list.status).toBe(200);
    const phoneSession = list.body.items.find((x: { deviceName: string }) => x.deviceName === 'Zhang phone');
    expect(phoneSession).toMatchObject({ platform: 'android', ip: '127.0.0.1', current: false });
    expect(list.body.items.find((x: { deviceName: string }) => x.deviceName === 'Office PC').current).toBe(true);
    // Another agent cannot end it; the agent ends it with wipe from the desktop.
    const other = api(s.url, await loginToken(s.url, 'alice@demo.goutong', 'alice-reset-password-2'));
    const zhangId = (await api(s.url, desktop.accessToken)('GET', '/api/v1/me')).body.agent.id;
    expect((await other('DELETE', `/api/v1/agents/${zhangId}/sessions/${phoneSession.id}`)).status).toBe(403);
    expect((await api(s.url, desktop.accessToken)('DELETE', `/api/v1/me/sessions/${phoneSession.id}?wipe=true`)).status).toBe(204);
    expect((await phoneSock.closed).code).toBe(CloseCode.wipe);
    const r = await api(s.url, phone.accessToken)('GET', '/api/v1/me');
    expect(r.status).toBe(401);
    expect(r.body.error.details).toEqual({ wipe: true });
    expect((await api(s.url, desktop.accessToken)('GET', '/api/v1/me')).status).toBe(200);
    // Admin view of the agent's sessions; end-others.
    const adminView = await admin('GET', `/api/v1/agents/${zhangId}/sessions`);
    expect(adminView.body.items.map((x: { deviceName: string }) => x.deviceName)).not.toContain('Zhang phone');
    const third = await login('Tablet', 'ios');
    expect((await api(s.url, desktop.accessToken)('POST', '/api/v1/me/sessions/end-others')).body.ended).toBeGreaterThanOrEqual(1);
    expect((await api(s.url, third.accessToken)('GET', '/api/v1/me')).status).toBe(401);
    expect((await admin('GET', `/api/v1/agents/${zhangId}/sessions`)).body.items.map((x: { deviceName: string }) => x.deviceName)).toEqual(['Office PC']);
  });

  it('two-factor over HTTP: login answers mfaRequired, /auth/mfa gives the tokens', async () => {
    const t = await loginToken(s.url, 'zhang.san@demo.goutong');
    const me = api(s.url, t);
    const setup = await me('POST', '/api/v1/me/mfa/setup');
    expect(setup.body.otpauthUri).toMatch(/^otpauth:\/\/totp\//);
    const en = await me('POST', '/api/v1/me/mfa/enable', { code: totp(setup.body.secret, Date.now()) });
    expect(en.status).toBe(200);
    expect(en.body.recoveryCodes).toHaveLength(10);
    const first = await (await fetch(`${s.url}/api/v1/auth/login`, json({ email: 'zhang.san@demo.goutong', password: 'goutong-demo' }))).json();
    expect(first).toMatchObject({ mfaRequired: true, mfaToken: expect.any(String) });
    expect(first.accessToken).toBeUndefined();
    expect((await fetch(`${s.url}/api/v1/auth/mfa`, json({ mfaToken: first.mfaToken, code: 'nope' }))).status).toBe(400);
    const second = await fetch(`${s.url}/api/v1/auth/mfa`, json({ mfaToken: first.mfaToken, code: en.body.recoveryCodes[0] }));
    expect(second.status).toBe(200);
    expect((await second.json()).accessToken).toEqual(expect.any(String));
    expect((await me('GET', '/api/v1/me/mfa')).body).toMatchObject({ enabled: true, recoveryCodesLeft: 9 });
    // An admin turns it off for a lost phone.
    const zhangId = (await me('GET', '/api/v1/me')).body.agent.id;
    expect((await admin('POST', `/api/v1/agents/${zhangId}/mfa/reset`)).status).toBe(204);
    expect(await loginToken(s.url, 'zhang.san@demo.goutong')).toEqual(expect.any(String));
  });
});

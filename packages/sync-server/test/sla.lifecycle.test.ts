/**
 * Business hours, SLA policies and lifecycle timers on the real server (in this process, its ops bus
 * drained after each step, the test clock moved forward), on SQLite and PostgreSQL: due dates in
 * business hours (Friday 17:00 Shanghai + 2 h = Monday 10:00), clocks paused while pending, a
 * warning and a breach once each with escalations, snooze waking once, pending auto-resolving,
 * resolved reopening within the window, and bad input answered with 400/409.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addBusinessMillis, businessMillisBetween, localTime, type Calendar } from '@goutong/core';
import { startTestServer, type Dialect } from './support/inProcess.js';
import { calendarFor } from '../src/domain/businessHours.js';
import { api, loginToken } from './support/agentClient.js';

const H = 3_600_000;
const MIN = 60_000;
const shanghai: Calendar = { timeZone: 'Asia/Shanghai', weekly: [1, 2, 3, 4, 5].map((day) => ({ day, open: '09:00', close: '18:00' })), holidays: [] };

/** The next Friday 17:00 in Shanghai (UTC+8, no DST) after `t`, at least a day ahead. */
function nextFriday1700Shanghai(t: number): number {
  const day = 86_400_000;
  for (let d = Math.floor((t + 8 * H) / day) * day + day; ; d += day) {
    const at = d - 8 * H + 17 * H; // local midnight of that date, + 17 h
    if (localTime(at, 'Asia/Shanghai').weekday === 5 && at > t + day) return at;
  }
}

for (const dialect of ['sqlite', 'postgres'] as Dialect[]) {
  describe(`business hours, SLA and lifecycle (${dialect})`, () => {
    let s: Awaited<ReturnType<typeof startTestServer>>;
    let admin: ReturnType<typeof api>;
    let agent: ReturnType<typeof api>;
    let inboxId: string;
    let calendarId: string;
    let policyId: string;
    let n = 0;
    const clockFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'goutong-clock-')), 'offset');

    const now = () => s.clock.now();
    const advanceTo = (t: number) => s.clock.advance(Math.max(0, t - now()));
    const settle = () => s.ops.drain();
    const inbound = async (from: string, text = 'hello') => {
      const r = await admin('POST', `/api/v1/inboxes/${inboxId}/inbound`, { externalId: `sla-${dialect}-${(n += 1)}`, from: { identifier: from }, text });
      expect(r.status).toBe(201);
      await settle();
      return r.body.conversationId as string;
    };
    const conv = async (id: string) => (await admin('GET', `/api/v1/conversations/${id}`)).body;
    const events = async (id: string, what: (meta: Record<string, unknown>) => boolean) =>
      ((await admin('GET', `/api/v1/conversations/${id}/messages?limit=200`)).body.items as Array<{ kind: string; meta: Record<string, unknown> }>).filter((m) => m.kind === 'event' && what(m.meta));
    const patch = async (id: string, body: Record<string, unknown>) => {
      const r = await admin('PATCH', `/api/v1/conversations/${id}`, body);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      await settle();
    };

    beforeAll(async () => {
      s = await startTestServer(dialect, { GOUTONG_TEST_CLOCK: clockFile, GOUTONG_OPS_INTERVAL_MS: '60000' });
      await s.ops.drain();
      admin = api(s.url, await loginToken(s.url, 'admin@demo.goutong'));
      agent = api(s.url, await loginToken(s.url, 'alice@demo.goutong'));
      inboxId = (await admin('GET', '/api/v1/inboxes')).body.items.find((i: { channel: string }) => i.channel === 'api').id;
    }, 60_000);
    afterAll(async () => s?.stopAll());

    it('refuses bad calendars (400), unknown calendars on inboxes and policies (400), and deleting a calendar in use (409)', async () => {
      const overlap = await admin('POST', '/api/v1/business-hours', { name: 'Bad', timeZone: 'Asia/Shanghai', weekly: [{ day: 1, open: '09:00', close: '12:00' }, { day: 1, open: '11:00', close: '13:00' }] });
      expect(overlap.status).toBe(400);
      expect(overlap.body.error.message).toMatch(/overlaps/);
      const zone = await admin('POST', '/api/v1/business-hours', { name: 'Bad', timeZone: 'Mars/Olympus_Mons', weekly: [] });
      expect(zone.status).toBe(400);
      expect(zone.body.error.message).toMatch(/unknown time zone/);
      expect((await agent('POST', '/api/v1/business-hours', { name: 'x', timeZone: 'Asia/Shanghai', weekly: [] })).status).toBe(403);

      const created = await admin('POST', '/api/v1/business-hours', { name: '上海办公时间', timeZone: 'Asia/Shanghai', weekly: shanghai.weekly, holidays: [{ date: '2027-10-01', name: '国庆节' }] });
      expect(created.status).toBe(201);
      calendarId = created.body.id;
      expect((await agent('GET', '/api/v1/business-hours')).body.items.map((b: { id: string }) => b.id)).toContain(calendarId);
      expect((await admin('PATCH', `/api/v1/business-hours/${calendarId}`, { weekly: [{ day: 2, open: '10:00', close: '09:00' }] })).status).toBe(400);

      expect((await admin('PATCH', `/api/v1/inboxes/${inboxId}`, { businessHoursId: 'no-such-calendar' })).status).toBe(400);
      expect((await admin('PATCH', `/api/v1/inboxes/${inboxId}`, { businessHoursId: calendarId })).status).toBe(200);
      expect((await admin('POST', '/api/v1/sla-policies', { name: 'x', isDefault: true, businessHoursId: 'nope', targets: { normal: { firstResponseSeconds: 60 } } })).status).toBe(400);

      const inUse = await admin('DELETE', `/api/v1/business-hours/${calendarId}`);
      expect(inUse.status).toBe(409);
      expect(inUse.body.error.message).toMatch(/inbox/);
      expect((await admin('PATCH', `/api/v1/inboxes/${inboxId}`, { businessHoursId: null })).status).toBe(200);

      const policy = await admin('POST', '/api/v1/sla-policies', {
        name: 'Standard', isDefault: true, businessHoursId: calendarId,
        targets: { normal: { firstResponseSeconds: 2 * 3600, nextResponseSeconds: 3600, resolutionSeconds: 40 * 3600 }, high: { firstResponseSeconds: 3600 } },
        warning: { percent: 80 },
        escalation: { raisePriority: true, notify: true, reassignToSupervisor: false },
      });
      expect(policy.status, JSON.stringify(policy.body)).toBe(201);
      policyId = policy.body.id;
      expect((await admin('POST', '/api/v1/sla-policies', { name: 'Second default', isDefault: true, targets: { normal: { firstResponseSeconds: 60 } } })).status).toBe(400);
      expect((await admin('DELETE', `/api/v1/business-hours/${calendarId}`)).status).toBe(409);
      const spare = await admin('POST', '/api/v1/business-hours', { name: 'Spare', timeZone: 'Europe/Berlin', weekly: [] });
      expect((await admin('DELETE', `/api/v1/business-hours/${spare.body.id}`)).status).toBe(204);
      const doc = (await admin('GET', '/api/v1/openapi.json')).body;
      expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/v1/business-hours', '/api/v1/business-hours/{id}', '/api/v1/sla-policies', '/api/v1/sla-policies/{id}']));
      expect(doc.components.schemas.Conversation.properties.sla).toBeDefined();
    });

    let fridayConv: string;
    it('counts in business hours: a conversation arriving Friday 17:00 Shanghai with a 2 h target is due Monday 10:00', async () => {
      const friday = nextFriday1700Shanghai(now());
      advanceTo(friday);
      fridayConv = await inbound('+8613900000001', '周五下午的问题');
      const c = await conv(fridayConv);
      expect(c.sla).toMatchObject({ policyId, breached: [] });
      expect(c.createdAt - friday).toBeLessThan(MIN);
      expect(c.sla.firstResponseDueAt - c.createdAt).toBe(65 * H); // Fri 17:00 → Mon 10:00
      expect(localTime(c.sla.firstResponseDueAt, 'Asia/Shanghai')).toMatchObject({ weekday: 1, hour: 10, minute: 0 });
    });

    it('a warning and a breach fire once each, with the escalation (priority raised) and the sla_breached event', async () => {
      const c0 = await conv(fridayConv);
      advanceTo(c0.sla.warnAt.first_response + MIN); // Monday 09:37
      await settle();
      expect(await events(fridayConv, (m) => m.sla === 'warning')).toHaveLength(1);
      await settle();
      advanceTo(c0.sla.firstResponseDueAt + MIN);
      await settle();
      await settle();
      const c = await conv(fridayConv);
      expect(c.sla.breached).toEqual(['first_response']);
      expect(c.priority).toBe('high');
      const breaches = await events(fridayConv, (m) => m.sla === 'breached');
      expect(breaches).toHaveLength(1);
      expect(breaches[0]!.meta).toMatchObject({ metric: 'first_response', escalations: ['priority:high'] });
      expect(await events(fridayConv, (m) => m.sla === 'warning' && m.metric === 'first_response')).toHaveLength(1);
      // The escalation's own priority change does not move the clocks again; a reply stops first response.
      expect(c.sla.firstResponseDueAt).toBe(c0.sla.firstResponseDueAt);
      const reply = await admin('POST', `/api/v1/conversations/${fridayConv}/messages`, { text: '您好，我们来看看' }, { 'idempotency-key': `r-${dialect}` });
      expect(reply.status).toBe(201);
      await settle();
      const answered = await conv(fridayConv);
      expect(answered.sla.firstResponseAt).toBe(reply.body.serverTime);
      expect(answered.sla.firstResponseDueAt).toBeNull();
      // A customer writing after the reply starts the next-response clock (1 h of business time).
      await inbound('+8613900000001', '还有一个问题');
      const waiting = await conv(fridayConv);
      expect(waiting.id).toBe(fridayConv);
      expect(waiting.sla.nextResponseDueAt).not.toBeNull();
    });

    it('pauses while pending: the due date moves on by the business time spent pending, and nothing fires meanwhile', async () => {
      const id = await inbound('+8613900000002', 'pending test');
      const before = await conv(id);
      const oldDue = before.sla.firstResponseDueAt as number;
      await patch(id, { status: 'pending' });
      const paused = await conv(id);
      expect(paused.sla.pausedAt).not.toBeNull();
      advanceTo(oldDue + 3 * H); // past the due date while pending
      await settle();
      expect(await events(id, (m) => m.sla !== undefined)).toHaveLength(0);
      await patch(id, { status: 'open' });
      const resumed = await conv(id);
      expect(resumed.sla.pausedAt).toBeNull();
      const left = businessMillisBetween(shanghai, paused.sla.pausedAt, oldDue);
      const resumedAt = now();
      // Resumed at some instant in [oldDue + 3 h, now]: the new due date is that instant + what was left.
      expect(resumed.sla.firstResponseDueAt).toBeGreaterThanOrEqual(addBusinessMillis(shanghai, oldDue + 3 * H, left)!);
      expect(resumed.sla.firstResponseDueAt).toBeLessThanOrEqual(addBusinessMillis(shanghai, resumedAt, left)!);
      expect(resumed.sla.firstResponseDueAt).toBeGreaterThan(oldDue);
    });

    it('a snoozed conversation wakes once at its time', async () => {
      const id = await inbound('+8613900000003', 'snooze me');
      const until = now() + 2 * H;
      await patch(id, { status: 'snoozed', snoozedUntil: until });
      advanceTo(until - MIN);
      await settle();
      expect((await conv(id)).status).toBe('snoozed');
      advanceTo(until + MIN);
      await settle();
      await settle();
      const c = await conv(id);
      expect(c.status).toBe('open');
      expect(c.snoozedUntil).toBeNull();
      expect(await events(id, (m) => m.reason === 'snooze_ended')).toHaveLength(1);
      advanceTo(now() + H);
      await settle();
      expect(await events(id, (m) => m.reason === 'snooze_ended')).toHaveLength(1);
    });

    it('a pending conversation resolves after the configured silence', async () => {
      expect((await agent('PATCH', '/api/v1/lifecycle-settings', { autoResolvePendingAfterSeconds: 3600 })).status).toBe(403);
      expect((await admin('PATCH', '/api/v1/lifecycle-settings', { autoResolvePendingAfterSeconds: 10 })).status).toBe(400);
      const set = await admin('PATCH', '/api/v1/lifecycle-settings', { autoResolvePendingAfterSeconds: 3600 });
      expect(set.body).toMatchObject({ autoResolvePendingAfterSeconds: 3600 });
      const id = await inbound('+8613900000004', 'pending then silence');
      await patch(id, { status: 'pending' });
      advanceTo(now() + 30 * MIN);
      await settle();
      expect((await conv(id)).status).toBe('pending');
      advanceTo(now() + 31 * MIN);
      await settle();
      await settle();
      const c = await conv(id);
      expect(c.status).toBe('resolved');
      expect(await events(id, (m) => m.reason === 'auto_resolved')).toHaveLength(1);
      expect(c.sla.stoppedAt).not.toBeNull();
    });

    it('a resolved conversation reopens when the customer writes within the window; later, or closed, starts a new one', async () => {
      const id = await inbound('+8613900000005', 'first');
      await patch(id, { status: 'resolved' });
      expect(await inbound('+8613900000005', 'again')).toBe(id);
      const reopened = await conv(id);
      expect(reopened.status).toBe('open');
      expect(reopened.sla.stoppedAt).toBeNull();
      expect(reopened.sla.resolutionDueAt).not.toBeNull();

      await admin('PATCH', '/api/v1/lifecycle-settings', { reopenWindowSeconds: 600 });
      await patch(id, { status: 'resolved' });
      advanceTo(now() + 20 * MIN);
      const fresh = await inbound('+8613900000005', 'much later');
      expect(fresh).not.toBe(id);
      expect((await conv(id)).status).toBe('resolved');

      await patch(fresh, { status: 'closed' });
      const afterClosed = await inbound('+8613900000005', 'after closed');
      expect(afterClosed).not.toBe(fresh);
      expect((await conv(fresh)).status).toBe('closed');
    });
    it('a reply written offline counts when the server accepted it; its device time is kept beside it', async () => {
      const id = await inbound('+8613900000006', 'offline reply test');
      const written = now() - 2 * H;
      const commandId = s.workspace.ids.next();
      const r = await agent('POST', '/api/v1/commands', { commands: [{ id: commandId, type: 'send_reply', conversationId: id, text: '离线时写的回复', deviceTime: written }] });
      expect(r.body.results?.[0]?.outcome ?? r.body[0]?.outcome ?? JSON.stringify(r.body)).toBe('applied');
      await settle();
      const c = await conv(id);
      const reply = ((await admin('GET', `/api/v1/conversations/${id}/messages`)).body.items as Array<{ id: string; serverTime: number }>).find((m) => m.id === commandId)!;
      expect(c.sla.firstResponseAt).toBe(reply.serverTime);
      expect(c.sla.firstResponseDeviceTime).toBe(written);
    });

    it('a team calendar wins over the inbox calendar; a team policy re-assigns a breach to the team supervisor', async () => {
      const me = (await admin('GET', '/api/v1/me')).body.agent;
      const teams = (await admin('GET', '/api/v1/teams')).body.items as Array<{ id: string; name: string }>;
      const support = teams.find((x) => x.name === 'Support')!;
      const berlin = (await admin('POST', '/api/v1/business-hours', { name: 'Berlin', timeZone: 'Europe/Berlin', weekly: [{ day: 1, open: '08:00', close: '16:00' }] })).body;
      expect((await admin('PATCH', `/api/v1/inboxes/${inboxId}`, { businessHoursId: calendarId })).status).toBe(200);
      expect((await calendarFor(s.db, me.tenantId, { inboxId, teamId: support.id }))?.id).toBe(calendarId);
      const agents = (await admin('GET', '/api/v1/agents')).body.items as Array<{ id: string; email: string }>;
      const li = agents.find((a) => a.email === 'li.wei@demo.goutong')!;
      expect((await admin('PATCH', `/api/v1/teams/${support.id}/calendar`, { businessHoursId: 'nope' })).status).toBe(400);
      expect((await agent('PATCH', `/api/v1/teams/${support.id}/calendar`, { businessHoursId: berlin.id })).status).toBe(403);
      const set = await admin('PATCH', `/api/v1/teams/${support.id}/calendar`, { businessHoursId: berlin.id, supervisorId: li.id });
      expect(set.body).toMatchObject({ teamId: support.id, businessHoursId: berlin.id, supervisorId: li.id });
      expect((await calendarFor(s.db, me.tenantId, { inboxId, teamId: support.id }))?.id).toBe(berlin.id);
      expect((await admin('DELETE', `/api/v1/business-hours/${berlin.id}`)).status).toBe(409);

      const policy = await admin('POST', '/api/v1/sla-policies', {
        name: 'Support team', teamIds: [support.id], targets: { normal: { firstResponseSeconds: 600 } },
        warning: { minutesBefore: 5 }, escalation: { reassignToSupervisor: true, notify: true },
      });
      expect(policy.status, JSON.stringify(policy.body)).toBe(201);
      const id = await inbound('+8613900000007', 'team policy');
      const c0 = await conv(id);
      expect(c0.teamId).toBe(support.id);
      expect(c0.sla.policyId).toBe(policy.body.id);
      expect(c0.sla.warnAt.first_response).toBe(c0.sla.firstResponseDueAt - 5 * MIN);
      advanceTo(c0.sla.firstResponseDueAt + MIN);
      await settle();
      await settle();
      const c = await conv(id);
      expect(c.assigneeId).toBe(li.id);
      const breach = await events(id, (m) => m.sla === 'breached');
      expect(breach).toHaveLength(1);
      expect(breach[0]!.meta.notify).toEqual([li.id]);
      // A warning overtaken by its breach (both due at once) is not sent on its own.
      expect(await events(id, (m) => m.sla === 'warning')).toHaveLength(0);
    });
  });
}

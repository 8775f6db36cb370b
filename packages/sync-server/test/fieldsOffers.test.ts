/**
 * [fields] Custom contact fields, segments and targeted offers against the real server (SQLite and
 * PostgreSQL): admins define typed fields; `update_contact` is checked against them by core's rule
 * (refused, normalised, audited by key only); phone fields reach an agent without pii.view masked;
 * search finds attributes; segments list their contacts with core's rule; an offer used in a reply
 * is counted once in the offers report (JSON and CSV); only admins change the definitions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type Dialect } from './support/inProcess.js';
import { api, loginToken } from './support/agentClient.js';

let n = 0;
const uuid = () => `01960000-0000-7000-8000-${String(++n).padStart(12, '0')}`;

for (const dialect of ['sqlite', 'postgres'] as Dialect[]) {
  describe(`custom fields, segments and offers (${dialect})`, () => {
    let s: Awaited<ReturnType<typeof startTestServer>>;
    let admin: ReturnType<typeof api>;
    let adminToken: string;
    let agent: ReturnType<typeof api>;
    let contactId: string;
    let otherId: string;
    let convId: string;
    let vipSegment: string;
    let offerId: string;
    const start = Date.now() - 60_000;

    const update = async (who: ReturnType<typeof api>, id: string, attributes: Record<string, string>) =>
      (await who('POST', '/api/v1/commands', { commands: [{ id: uuid(), deviceTime: Date.now(), type: 'update_contact', contactId: id, attributes }] })).body.results[0];

    beforeAll(async () => {
      s = await startTestServer(dialect);
      adminToken = await loginToken(s.url, 'admin@demo.goutong');
      admin = api(s.url, adminToken);
      agent = api(s.url, await loginToken(s.url, 'zhang.san@demo.goutong'));
      const teams = (await admin('GET', '/api/v1/teams')).body.items as Array<{ id: string; name: string }>;
      const support = teams.find((t) => t.name === 'Support')!.id;
      const inbox = (await admin('POST', '/api/v1/inboxes', { name: 'Web API', channel: 'api', teamIds: [support] })).body.id;
      const a = await admin('POST', `/api/v1/inboxes/${inbox}/inbound`, { externalId: `fo-${dialect}-1`, from: { identifier: 'vip-1', name: '王芳 Wang Fang' }, text: '有优惠吗？' });
      convId = a.body.conversationId ?? a.body.conversation?.id;
      contactId = (await admin('GET', `/api/v1/conversations/${convId}`)).body.contactId;
      const b = await admin('POST', `/api/v1/inboxes/${inbox}/inbound`, { externalId: `fo-${dialect}-2`, from: { identifier: 'plain-2', name: 'Tom' }, text: 'hello' });
      otherId = (await admin('GET', `/api/v1/conversations/${b.body.conversationId ?? b.body.conversation?.id}`)).body.contactId;
    });
    afterAll(async () => s?.stopAll());

    it('admins define typed fields; agents read them; bad definitions are refused', async () => {
      const defs = [
        { key: 'vip', type: 'boolean', label: { zh: '贵宾', en: 'VIP' }, order: 1 },
        { key: 'city', type: 'text', label: { zh: '城市', en: 'City' }, required: true, order: 2 },
        { key: 'spend', type: 'number', label: { zh: '消费', en: 'Spend' }, order: 3 },
        { key: 'tier', type: 'select', label: { zh: '等级', en: 'Tier' }, options: ['gold', 'silver'], order: 4 },
        { key: 'mobile', type: 'phone', label: { zh: '手机', en: 'Mobile' }, order: 5 },
      ];
      for (const d of defs) expect((await admin('POST', '/api/v1/contact-fields', d)).status).toBe(201);
      expect((await admin('POST', '/api/v1/contact-fields', defs[0])).status).toBe(409);
      expect((await admin('POST', '/api/v1/contact-fields', { key: 'x', type: 'select', label: { zh: 'x', en: 'x' } })).status).toBe(400);
      expect((await admin('POST', '/api/v1/contact-fields', { key: 'mergedInto', type: 'text', label: { zh: 'x', en: 'x' } })).status).toBe(400);
      expect((await agent('POST', '/api/v1/contact-fields', { key: 'y', type: 'text', label: { zh: 'y', en: 'y' } })).status).toBe(403);
      const list = (await agent('GET', '/api/v1/contact-fields')).body.items as Array<{ id: string; key: string }>;
      expect(list.map((f) => f.key)).toEqual(['vip', 'city', 'spend', 'tier', 'mobile']);
      const tier = list.find((f) => f.key === 'tier')!;
      expect((await admin('PATCH', `/api/v1/contact-fields/${tier.id}`, { options: ['gold', 'silver', 'bronze'] })).body.options).toEqual(['gold', 'silver', 'bronze']);
      expect((await admin('PATCH', `/api/v1/contact-fields/${tier.id}`, { type: 'text' })).status).toBe(400);
    });

    it('update_contact is checked against the fields, normalised and audited by key', async () => {
      const bad = await update(agent, contactId, { spend: 'a lot', tier: 'platinum' });
      expect(bad).toMatchObject({ outcome: 'rejected', error: { code: 'bad_request' } });
      expect(bad.error.message).toContain('spend');
      expect(bad.error.message).toContain('tier');
      expect((await update(agent, contactId, { vip: '是', city: '上海', spend: '1200.50', tier: 'gold', mobile: '5551234' })).outcome).toBe('applied');
      expect((await update(agent, otherId, { vip: 'no', city: '北京', spend: '80' })).outcome).toBe('applied');
      const c = (await admin('GET', `/api/v1/contacts/${contactId}`)).body;
      expect(c.attributes).toMatchObject({ vip: 'true', city: '上海', spend: '1200.5', tier: 'gold', mobile: '5551234' });
      expect((await update(agent, contactId, { city: '' })).outcome).toBe('rejected'); // required
      const audit = (await admin('GET', `/api/v1/audit-events?action=contact.update`)).body.items as Array<{ target: string; details: { attributes: string[] } }>;
      const mine = audit.find((e) => e.target === contactId)!;
      expect(mine.details.attributes).toEqual(['city', 'mobile', 'spend', 'tier', 'vip']);
      expect(JSON.stringify(mine)).not.toContain('5551234');
    });

    it('a phone field is personal data: masked whole for an agent, and an edit sending the mask back keeps it', async () => {
      const seen = (await agent('GET', `/api/v1/contacts/${contactId}`)).body;
      expect(seen.attributes.mobile).toBe('*****34');
      expect(seen.attributes.city).toBe('上海');
      expect((await update(agent, contactId, { mobile: seen.attributes.mobile, spend: '1300' })).outcome).toBe('applied');
      expect((await admin('GET', `/api/v1/contacts/${contactId}`)).body.attributes).toMatchObject({ mobile: '5551234', spend: '1300' });
    });

    it('contacts search finds attribute values', async () => {
      const ids = (await agent('GET', `/api/v1/contacts?q=${encodeURIComponent('上海')}`)).body.items.map((c: { id: string }) => c.id);
      expect(ids).toEqual([contactId]);
    });

    it('segments: admins define them by rules, their contact lists use the one rule', async () => {
      const seg = await admin('POST', '/api/v1/segments', { name: '上海贵宾', rule: { match: 'all', conditions: [{ kind: 'attribute', key: 'vip', op: 'eq', value: 'true' }, { kind: 'attribute', key: 'city', op: 'eq', value: '上海' }] } });
      expect(seg.status).toBe(201);
      vipSegment = seg.body.id;
      const big = (await admin('POST', '/api/v1/segments', { name: 'Big spenders', rule: { match: 'all', conditions: [{ kind: 'attribute', key: 'spend', op: 'gt', value: '100' }] } })).body.id;
      const recent = (await admin('POST', '/api/v1/segments', { name: 'Recent api', rule: { match: 'all', conditions: [{ kind: 'identity', channel: 'api' }, { kind: 'last_contacted', withinDays: 7 }] } })).body.id;
      expect((await admin('POST', '/api/v1/segments', { name: 'bad', rule: { match: 'all', conditions: [{ kind: 'attribute', key: 'spend', op: 'gt' }] } })).status).toBe(400);
      expect((await agent('POST', '/api/v1/segments', { name: 'no', rule: { match: 'any', conditions: [{ kind: 'identity', channel: 'sms' }] } })).status).toBe(403);
      const members = async (id: string) => ((await agent('GET', `/api/v1/segments/${id}/contacts`)).body.items as Array<{ id: string }>).map((c) => c.id).sort();
      expect(await members(vipSegment)).toEqual([contactId]);
      expect(await members(big)).toEqual([contactId]);
      expect(await members(recent)).toEqual(expect.arrayContaining([contactId, otherId]));
      const either = (await admin('POST', '/api/v1/segments', { name: 'Either', rule: { match: 'any', conditions: [{ kind: 'attribute', key: 'city', op: 'in', values: ['北京', '广州'] }, { kind: 'attribute', key: 'tier', op: 'eq', value: 'GOLD' }] } })).body.id;
      expect(await members(either)).toEqual([contactId, otherId].sort());
      expect((await admin('PATCH', `/api/v1/segments/${either}`, { rule: { match: 'all', conditions: [{ kind: 'attribute', key: 'city', op: 'contains', value: '北' }] } })).status).toBe(200);
      expect(await members(either)).toEqual([otherId]);
      expect((await admin('DELETE', `/api/v1/segments/${either}`)).status).toBe(204);
      expect((await agent('GET', '/api/v1/segments')).body.items.map((g: { name: string }) => g.name)).toEqual(['Big spenders', 'Recent api', '上海贵宾']);
      // The contact list is masked like every contact row.
      expect((await agent('GET', `/api/v1/segments/${vipSegment}/contacts`)).body.items[0].attributes.mobile).toBe('*****34');
    });

    it('offers: admins define them for a segment, every agent reads them; a segment in use cannot go', async () => {
      const o = await admin('POST', '/api/v1/offers', { title: 'VIP 九折', textZh: '尊敬的贵宾，本月全场九折。', textEn: 'Dear VIP, 10% off everything this month.', segmentId: vipSegment, validFrom: start, validTo: Date.now() + 86_400_000 });
      expect(o.status).toBe(201);
      offerId = o.body.id;
      expect((await admin('POST', '/api/v1/offers', { title: 'no text', segmentId: vipSegment })).status).toBe(400);
      expect((await admin('POST', '/api/v1/offers', { title: 'no segment', text: 'x', segmentId: '01960000-0000-7000-8000-999999999999' })).status).toBe(400);
      expect((await admin('PATCH', `/api/v1/offers/${offerId}`, { validTo: start - 1 })).status).toBe(400);
      expect((await agent('GET', '/api/v1/offers')).body.items).toEqual([expect.objectContaining({ id: offerId, segmentId: vipSegment, active: true })]);
      expect((await agent('PATCH', `/api/v1/offers/${offerId}`, { active: false })).status).toBe(403);
      expect((await admin('DELETE', `/api/v1/segments/${vipSegment}`)).status).toBe(409);
    });

    it('a reply that uses an offer counts once in the offers report (JSON and CSV)', async () => {
      const cmd = { id: uuid(), deviceTime: Date.now(), type: 'send_reply', conversationId: convId, text: '尊敬的贵宾，本月全场九折。', offerId };
      expect((await agent('POST', '/api/v1/commands', { commands: [cmd] })).body.results[0].outcome).toBe('applied');
      expect((await agent('POST', '/api/v1/commands', { commands: [cmd] })).body.results[0].outcome).toBe('duplicate');
      // A reply without an offer is not counted.
      await agent('POST', '/api/v1/commands', { commands: [{ id: uuid(), deviceTime: Date.now(), type: 'send_reply', conversationId: convId, text: 'thanks' }] });
      await s.ops.drain();
      const q = `from=${start - 3_600_000}&to=${Date.now() + 3_600_000}`;
      const r = await admin('GET', `/api/v1/reports/offers?${q}`);
      expect(r.status).toBe(200);
      expect(r.body.items).toEqual([{ offerId, title: 'VIP 九折', uses: 1, conversations: 1, agents: 1 }]);
      expect(r.body.total).toBe(1);
      const csv = await fetch(`${s.url}/api/v1/reports/offers?${q}`, { headers: { authorization: `Bearer ${adminToken}`, accept: 'text/csv' } });
      expect(csv.status).toBe(200);
      expect(csv.headers.get('content-type')).toContain('text/csv');
      expect(await csv.text()).toContain(`${offerId},VIP 九折,1,1,1`);
      expect((await agent('GET', `/api/v1/reports/offers?${q}`)).status).toBe(403);
      // Another window has no uses.
      expect((await admin('GET', `/api/v1/reports/offers?from=${start - 7_200_000}&to=${start - 3_600_000}`)).body.items).toEqual([]);
    });

    it('automation rules may use segment membership as a condition', async () => {
      const rule = await admin('POST', '/api/v1/automation-rules', {
        name: 'VIP label', event: 'message_received',
        conditions: { match: 'all', items: [{ field: 'segment', op: 'in', segmentIds: [vipSegment] }] },
        actions: [{ type: 'add_label', label: 'vip' }],
      });
      expect(rule.status).toBe(201);
      const inbox = (await admin('GET', `/api/v1/conversations/${convId}`)).body.inboxId;
      await admin('POST', `/api/v1/inboxes/${inbox}/inbound`, { externalId: `fo-${dialect}-3`, from: { identifier: 'vip-1' }, text: '还有别的优惠吗' });
      await admin('POST', `/api/v1/inboxes/${inbox}/inbound`, { externalId: `fo-${dialect}-4`, from: { identifier: 'plain-2' }, text: 'any deals?' });
      await s.ops.drain();
      expect((await admin('GET', `/api/v1/conversations/${convId}`)).body.labels).toContain('vip');
      const other = ((await admin('GET', '/api/v1/conversations?limit=200')).body.items as Array<{ contactId: string; labels: string[] }>).find((c) => c.contactId === otherId)!;
      expect(other.labels).not.toContain('vip');
      expect((await admin('DELETE', `/api/v1/automation-rules/${rule.body.id}`)).status).toBe(204);
    });

    it('the OpenAPI document describes the new routes', async () => {
      const doc = (await (await fetch(`${s.url}/api/v1/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
      for (const p of ['/api/v1/contact-fields', '/api/v1/contact-fields/{id}', '/api/v1/segments', '/api/v1/segments/{id}', '/api/v1/segments/{id}/contacts', '/api/v1/offers', '/api/v1/offers/{id}', '/api/v1/reports/offers']) {
        expect(doc.paths[p], p).toBeDefined();
      }
      expect(Object.keys(doc.paths['/api/v1/contact-fields']!)).toEqual(['get', 'post']);
    });
  });
}

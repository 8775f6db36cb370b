import type { Agent, Command } from '@goutong/core';
import type { Workspace } from './domain/workspace.js';
import { createInbox, createTenant, tenantBySlug } from './domain/tenants.js';
import { CannedResponses } from './domain/canned.js';
import { getSetting, setSettingOnce } from './domain/serverSettings.js';
import { seedDemoHistory, type DemoHistoryDeps } from './demoHistory.js';

export const DEMO = {
  tenant: 'demo',
  adminEmail: 'admin@demo.goutong',
  password: 'goutong-demo',
} as const;

export { createInbox, createTenant, type CreateTenantInput } from './domain/tenants.js';

const SAMPLES: { from: string; name: string; text: string; priority?: 'urgent' | 'high' | 'low'; labels?: string[]; assign?: string; status?: 'pending' | 'resolved' }[] = [
  { from: '+8613800138000', name: '王芳', text: '你好，我的订单 #20261124 还没有发货，请帮忙查一下。', priority: 'high', labels: ['订单'] },
  { from: '+8613900139000', name: '李雷', text: '请问你们周末营业吗？我想周六去门店取货。', labels: ['门店'] },
  { from: 'maria@example.com', name: 'Maria Garcia', text: 'Hi, I was charged twice for my subscription this month. Can you refund one of the charges?', priority: 'urgent', labels: ['billing'], assign: 'zhang.san@demo.goutong' },
  { from: 'tom@example.com', name: 'Tom Baker', text: 'The app keeps logging me out on my phone. Any idea why?', labels: ['bug'] },
  { from: '+4915112345678', name: 'Jonas Weber', text: 'Can I change the delivery address for order 4471?', assign: 'alice@demo.goutong' },
  { from: '+8618600186000', name: '陈静', text: '发票抬头写错了，能重新开一张吗？', labels: ['发票'], status: 'pending' },
  { from: 'sam@example.com', name: 'Sam Lee', text: 'Thanks, the replacement arrived and works perfectly!', priority: 'low', status: 'resolved' },
  { from: '+8613700137000', name: '赵强', text: '设备安装后一直报错 E12，现场需要技术员。', priority: 'urgent', labels: ['现场'] },
];

/**
 * Seeds the demo workspace on first start. Resumable: a start interrupted half-way finishes the
 * job next time (each step checks what exists; inbound messages are idempotent by externalId).
 */
export async function seedDemo(ws: Workspace, serverSecret: string, o: { history?: { days: number; deps: DemoHistoryDeps } } = {}): Promise<boolean> {
  if ((await getSetting(ws.db, 'demo_seeded')) !== null) return false;
  const existing = await tenantBySlug(ws.db, DEMO.tenant);
  let tenantId: string;
  let agents: Record<string, Agent>;
  let supportTeam: string;
  if (existing) {
    tenantId = existing.id;
    agents = Object.fromEntries((await ws.agents(tenantId)).map((a) => [a.email, a]));
    supportTeam = (await ws.teams(tenantId)).find((t) => t.name === 'Support')!.id;
  } else {
    const t = await createTenant(ws, {
      slug: DEMO.tenant,
      name: 'Goutong Demo 沟通演示',
      teams: ['Support', 'Sales'],
      agents: [
        { email: DEMO.adminEmail, name: 'Admin 管理员', role: 'admin', teams: ['Support', 'Sales'], password: DEMO.password },
        { email: 'li.wei@demo.goutong', name: '李伟 Li Wei', role: 'supervisor', teams: ['Support'], password: DEMO.password },
        { email: 'zhang.san@demo.goutong', name: '张三 Zhang San', role: 'agent', teams: ['Support'], password: DEMO.password },
        { email: 'alice@demo.goutong', name: 'Alice Chen', role: 'agent', teams: ['Support'], password: DEMO.password },
        { email: 'bob@demo.goutong', name: 'Bob Smith', role: 'agent', teams: ['Sales'], password: DEMO.password },
      ],
    });
    tenantId = t.tenantId;
    agents = t.agents;
    supportTeam = t.teamIds.Support!;
  }
  const found = (await ws.inboxes(tenantId)).find((i) => i.name === 'Demo API');
  const inboxId = found?.id ?? (await createInbox(ws, serverSecret, { tenantId, name: 'Demo API', channel: 'api', teamIds: [supportTeam] }));
  const inbox = (await ws.inbox(tenantId, inboxId))!;
  const admin = agents[DEMO.adminEmail]!;
  // The past weeks first (answered, resolved, rated), then today's open conversations below.
  if (o.history && o.history.days > 0) {
    const { days, deps } = o.history;
    const written = await seedDemoHistory(deps, { tenantId, inbox, days, now: Date.now() });
    deps.logger.info('demo: history written', { days, conversations: written });
  }
  let n = 0;
  for (const s of SAMPLES) {
    const r = await ws.ingestInbound(inbox, { externalId: `demo-${++n}`, from: { identifier: s.from, name: s.name }, text: s.text });
    if (r.duplicate) continue;
    const cmds: Command[] = [];
    const base = { conversationId: r.conversation.id, deviceTime: Date.now() };
    if (s.priority) cmds.push({ ...base, id: ws.ids.next(), type: 'set_priority', priority: s.priority });
    for (const l of s.labels ?? []) cmds.push({ ...base, id: ws.ids.next(), type: 'add_label', label: l });
    if (s.assign) cmds.push({ ...base, id: ws.ids.next(), type: 'assign', assigneeId: agents[s.assign]!.id });
    if (s.status) cmds.push({ ...base, id: ws.ids.next(), type: 'set_status', status: s.status });
    for (const c of cmds) await ws.applyCommand(admin, c);
  }
  const canned: [string, string, string][] = [
    ['hello', '问候 Greeting', '您好 {{contact.name}}，我是{{agent.name}}，很高兴为您服务。'],
    ['thanks', 'Thanks', 'Thank you {{contact.firstName}}, glad we could help! — {{agent.name}}'],
    ['refund', 'Refund policy', 'Refunds reach your account within 3-5 business days after we receive the item.'],
    ['wait', '请稍候', '请稍候，我正在为您查询，马上回复您。'],
  ];
  await new CannedResponses(ws.db).seed(tenantId, canned.map(([shortCode, title, body]) => ({ id: ws.ids.next(), shortCode, title, body })));
  await setSettingOnce(ws.db, 'demo_seeded', String(Date.now()));
  return true;
}

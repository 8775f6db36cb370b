// The demo workspace's past weeks (`GOUTONG_DEMO_HISTORY_DAYS`, which `npm start` sets): customers
// writing, agents answering, conversations resolved and rated, a few replies costing money and using
// an offer, so the reports, the CSAT dashboard, the suggestions and the customer timeline have
// something to show on first start. Every fact goes through the domain writers (the workspace, the
// relay, the CSAT answer) with a clock set to the past, never by writing rows.
import { seededRandom, type Agent, type Command, type Inbox, type Logger } from '@goutong/core';
import type { Db } from './db/db.js';
import { Workspace } from './domain/workspace.js';
import { RelayWorker } from './relay/worker.js';
import type { ProviderDeps, ProviderRegistry } from './channels/provider.js';
import { pricingOf, savePricing } from './domain/reports.js';
import { answerInPlace } from './domain/csat.js';
import { ContactFields, Offers, Segments } from './domain/contactFields.js';

/** What customers ask and how the team answers (also the suggestions benchmark's questions). */
export const DEMO_QA: ReadonlyArray<{ question: string; answer: string; label: string }> = [
  { question: '我的快递怎么还没到？', answer: '您的包裹正在派送中，预计明天送达。', label: '订单' },
  { question: '发票抬头写错了，能重新开一张吗？', answer: '可以，请提供正确的抬头，我们会重新开具发票。', label: '发票' },
  { question: '你们周末营业吗？', answer: '我们周六周日 9:00–18:00 营业。', label: '门店' },
  { question: '怎么修改收货地址？', answer: '在订单详情页点击“修改地址”即可，发货前都可以修改。', label: '订单' },
  { question: 'Where is my invoice?', answer: 'We e-mail the invoice within one business day of payment.', label: 'billing' },
  { question: 'I was charged twice this month', answer: 'Sorry about that: we refunded the duplicate charge, it shows within 5 days.', label: 'billing' },
  { question: 'How do I reset my password?', answer: 'Use “Forgot password” on the sign-in page and follow the e-mail.', label: 'account' },
  { question: 'Can I change the delivery address?', answer: 'Yes, open the order and choose “Change address” before it ships.', label: 'orders' },
  { question: 'The app keeps logging me out', answer: 'Please update to the latest version; it fixes the sign-out issue.', label: 'bug' },
  { question: 'Do you ship to Hong Kong?', answer: 'Yes, we ship to Hong Kong in 3–5 business days.', label: 'orders' },
];

const CUSTOMERS: ReadonlyArray<{ id: string; name: string; tier: 'standard' | 'silver' | 'gold'; zh: boolean }> = [
  { id: '+8613811110001', name: '刘洋', tier: 'gold', zh: true },
  { id: '+8613811110002', name: '周敏', tier: 'standard', zh: true },
  { id: '+8613811110003', name: '吴磊', tier: 'silver', zh: true },
  { id: '+8613811110004', name: '孙丽', tier: 'gold', zh: true },
  { id: '+8613811110005', name: '郑浩', tier: 'standard', zh: true },
  { id: '+8613811110006', name: '黄婷', tier: 'standard', zh: true },
  { id: 'emma.clark@example.com', name: 'Emma Clark', tier: 'gold', zh: false },
  { id: 'liam.wong@example.com', name: 'Liam Wong', tier: 'standard', zh: false },
  { id: 'olivia.brown@example.com', name: 'Olivia Brown', tier: 'silver', zh: false },
  { id: 'noah.kim@example.com', name: 'Noah Kim', tier: 'standard', zh: false },
  { id: '+85291234567', name: 'Chan Tai Man', tier: 'silver', zh: false },
  { id: 'ava.muller@example.com', name: 'Ava Müller', tier: 'standard', zh: false },
];

const FOLLOW_UP = { zh: ['好的，谢谢！还有，能开发票吗？', '收到，请问大概几点送到？'], en: ['Thanks! Could you also send me the receipt?', 'Great, and when will it arrive?'] } as const;
const FOLLOW_ANSWER = { zh: ['可以，发票会在一个工作日内发到您的邮箱。', '一般在下午 6 点前送达。'], en: ['Sure, the receipt is on its way to your e-mail.', 'It usually arrives before 6 pm.'] } as const;
const COMMENTS = { zh: ['回复很快，谢谢！', '问题解决了', '还可以'], en: ['Quick and helpful, thanks!', 'Solved my problem', 'OK'] } as const;

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** Asia/Shanghai has no daylight saving: local time is UTC + 8 h all year. */
const SHANGHAI = 8 * HOUR;

/** A command without its id and device time (filled in when it runs). */
type WithoutId<C> = C extends unknown ? Omit<C, 'id' | 'deviceTime'> : never;
type Intent = WithoutId<Command>;

export interface DemoHistoryDeps {
  db: Db;
  logger: Logger;
  providers: ProviderRegistry;
  deps: ProviderDeps;
}

/**
 * Writes `days` days of history before `now` into the demo tenant's inbox (once: the caller records
 * that it ran). Returns the number of conversations written.
 */
export async function seedDemoHistory(d: DemoHistoryDeps, o: { tenantId: string; inbox: Inbox; days: number; now: number }): Promise<number> {
  let t = o.now - o.days * DAY;
  const clock = () => t;
  // The same writers the server runs, with the clock at the history's moment.
  // Warnings and errors only: the start's log is not a line per past reply.
  const logger: Logger = { debug() {}, info() {}, warn: (msg, fields) => d.logger.warn(msg, fields), error: (msg, fields) => d.logger.error(msg, fields) };
  const ws = new Workspace(d.db, logger, clock);
  const relay = new RelayWorker({ db: d.db, workspace: ws, providers: d.providers, deps: d.deps, logger, intervalMs: 3_600_000, now: clock });
  const agents = await ws.agents(o.tenantId);
  const byEmail = (e: string) => agents.find((a) => a.email === e);
  const admin = byEmail('admin@demo.goutong');
  const team = ['li.wei@demo.goutong', 'zhang.san@demo.goutong', 'alice@demo.goutong'].map(byEmail).filter((a): a is Agent => a !== undefined);
  if (!admin || team.length === 0) return 0;
  const actor = { tenantId: o.tenantId, agentId: admin.id };

  // Prices (replies on this inbox cost 0.045 CNY, as an SMS would) and a monthly budget.
  const pricing = await pricingOf(d.db, o.tenantId);
  await savePricing(d.db, o.tenantId, { ...pricing, currency: 'CNY', apiPerMessage: 0.045, timeZone: 'Asia/Shanghai', monthlyBudget: pricing.monthlyBudget ?? 50 }, t);
  // A custom field, a segment of the gold members and an offer for them.
  const fields = new ContactFields(d.db, clock);
  if (!(await fields.list(o.tenantId)).some((f) => f.key === 'tier')) {
    await fields.create(actor, ws.ids.next(), { key: 'tier', type: 'select', label: { zh: '会员等级', en: 'Membership' }, required: false, options: ['standard', 'silver', 'gold'], order: 0 });
  }
  const segments = new Segments(d.db, clock);
  const gold =
    (await segments.list(o.tenantId)).find((s) => s.name === 'Gold members 金卡会员') ??
    (await segments.create(actor, ws.ids.next(), { name: 'Gold members 金卡会员', description: 'tier = gold', rule: { match: 'all', conditions: [{ kind: 'attribute', key: 'tier', op: 'eq', value: 'gold' }] } }));
  const offers = new Offers(d.db, clock);
  const offer =
    (await offers.list(o.tenantId)).find((x) => x.segmentId === gold.id) ??
    (await offers.create(actor, ws.ids.next(), {
      title: 'Free express shipping 金卡包邮', text: null, segmentId: gold.id, validFrom: null, validTo: null, active: true,
      textZh: '作为金卡会员，您下一单可享受免费顺丰快递。', textEn: 'As a Gold member, your next order ships free by express.',
    }));

  const run = async (agent: Agent, c: Intent) => {
    const out = await ws.applyCommand(agent, { ...c, id: ws.ids.next(), deviceTime: t } as Command);
    if (out.outcome !== 'applied') d.logger.warn('demo history: a command was not applied', { type: c.type, outcome: out.outcome });
  };
  // One generator per day and one per conversation: a start interrupted half-way writes the same
  // history when it resumes (what exists is skipped by its externalId, the rest comes out the same).
  let r = seededRandom(1);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const tierSet = new Set<string>();
  // Time moves on within a conversation; what would reach the present is left out (yesterday's last ones).
  const later = (ms: number): boolean => {
    t += ms;
    return t < o.now - MINUTE;
  };
  let written = 0;
  for (let day = o.days; day >= 1; day -= 1) {
    r = seededRandom(20_261_204 + day);
    const midnight = Math.floor((o.now - day * DAY + SHANGHAI) / DAY) * DAY - SHANGHAI; // local midnight
    const weekday = new Date(midnight + SHANGHAI).getUTCDay();
    const count = weekday === 0 || weekday === 6 ? 1 + Math.floor(r() * 2) : 3 + Math.floor(r() * 4);
    const starts = Array.from({ length: count }, () => midnight + 9 * HOUR + Math.floor(r() * 9 * HOUR)).sort((a, b) => a - b);
    for (const [i, start] of starts.entries()) {
      r = seededRandom(day * 1_000 + i);
      const who = pick(CUSTOMERS);
      const qa = pick(DEMO_QA.filter((x) => /[\u4e00-\u9fff]/.test(x.question) === who.zh));
      const agent = pick(team);
      t = start;
      // Each question is a new ticket (as an integration posting to an api inbox asks for).
      const res = await ws.ingestInbound(o.inbox, { externalId: `demo-history-${day}-${i}`, from: { identifier: who.id, name: who.name }, text: qa.question, newConversation: true });
      if (res.duplicate) continue;
      written += 1;
      const conversationId = res.conversation.id;
      if (!tierSet.has(res.conversation.contactId)) {
        tierSet.add(res.conversation.contactId);
        await run(admin, { type: 'update_contact', contactId: res.conversation.contactId, attributes: { tier: who.tier } });
      }
      if (!later(MINUTE)) continue;
      await run(admin, { type: 'assign', conversationId, assigneeId: agent.id });
      await run(agent, { type: 'add_label', conversationId, label: qa.label });
      // First response: mostly minutes, sometimes an hour or more.
      if (!later(Math.round(MINUTE * Math.exp(r() * Math.log(120))))) continue;
      const offerFits = who.tier === 'gold' && r() < 0.6;
      // Each reply goes out (the relay at the same moment: the provider accepts it, and it costs).
      await run(agent, { type: 'send_reply', conversationId, text: qa.answer });
      await relay.pass();
      if (offerFits && later(30_000)) {
        await run(agent, { type: 'send_reply', conversationId, text: who.zh ? offer.textZh ?? offer.title : offer.textEn ?? offer.title, offerId: offer.id });
        await relay.pass();
      }
      if (r() < 0.4) {
        const k = Math.floor(r() * 2);
        if (!later(10 * MINUTE + Math.floor(r() * 50 * MINUTE))) continue;
        await ws.ingestInbound(o.inbox, { externalId: `demo-history-${day}-${i}-follow-up`, from: { identifier: who.id, name: who.name }, text: FOLLOW_UP[who.zh ? 'zh' : 'en'][k]!, conversationId });
        if (!later(2 * MINUTE + Math.floor(r() * 20 * MINUTE))) continue;
        await run(agent, { type: 'send_reply', conversationId, text: FOLLOW_ANSWER[who.zh ? 'zh' : 'en'][k]! });
        await relay.pass();
      }
      // Most are resolved the same day; a few stay open (the oldest unresolved work).
      if (day > 1 || r() < 0.5) {
        if (r() < 0.93) {
          if (!later(20 * MINUTE + Math.floor(r() * 5 * HOUR))) continue;
          await run(agent, { type: 'set_status', conversationId, status: 'resolved' });
          // About two in three rate the answer, mostly well.
          if (r() < 0.65) {
            if (!later(5 * MINUTE + Math.floor(r() * 2 * HOUR))) continue;
            const rating = pick([5, 5, 5, 4, 4, 4, 3, 2]);
            await answerInPlace(ws, conversationId, { rating, comment: r() < 0.5 ? pick(COMMENTS[who.zh ? 'zh' : 'en']) : null }, t);
          }
        }
      }
    }
  }
  return written;
}

import type { AutomationRuleInput, BusinessHoursInput, LifecycleSettings, SlaPolicyInput } from '../rules/index.js';
import type { AutoReplyMessage, InboxCsat, Message } from '../domain/model.js';
import { localTime } from '../rules/businessHours.js';

/**
 * [ops] The service-operations settings the convergence tests run under, shared by the property test
 * against the reference server (core/test/convergence.property.test.ts) and the one against real
 * server processes (sync-server/test/convergence.real.test.ts). A test draws the picks (small
 * integers, from its own generator) and applies the scenario through its server's admin API.
 */
export interface OpsPicks {
  /** 0: no calendar (24/7); 1: Asia/Shanghai weekdays with a holiday and a half day; 2: America/New_York every day 08:00-20:00. */
  hours: number;
  /** 0: no SLA; 1: a default policy on wall-clock time; 2: a policy on the inboxes in business time that raises the priority and re-assigns at a breach. */
  sla: number;
  /** 0: no rule; 1: a keyword rule; 2: the keyword rule, rules that would loop, and one on SLA warnings. */
  automation: number;
  /** 0: none; 1: an acknowledgement; 2: an acknowledgement and an out-of-hours reply (30-minute window). */
  autoReply: number;
  /** Surveys after resolution on every inbox. */
  csat: boolean;
  /** 0: auto-resolve after 1 h pending, reopen within 30 min; 1: neither (always a new conversation); 2: the defaults (7 days each). */
  lifecycle: number;
}

/** How many values each numeric pick takes (a generator draws 0..n-1). */
export const OPS_PICK_RANGES = { hours: 3, sla: 3, automation: 3, autoReply: 3, lifecycle: 3 } as const;

export interface OpsScenarioIds {
  /** Every inbox of the test (SLA policy 2 names them). */
  inboxIds: readonly string[];
  /** The team automation rules may assign. */
  teamId: string;
  /** The calendar's id once created (null: none). */
  businessHoursId: string | null;
}

export interface OpsScenario {
  businessHours: BusinessHoursInput | null;
  lifecycle: Partial<LifecycleSettings>;
  /** What each inbox's PATCH sends besides `businessHoursId` (the calendar, when there is one). */
  inbox: { autoReply: { acknowledge?: AutoReplyMessage; outOfHours?: AutoReplyMessage; windowMinutes?: number } | null; csat: InboxCsat | null };
  slaPolicy(ids: OpsScenarioIds): SlaPolicyInput | null;
  rules(ids: OpsScenarioIds): AutomationRuleInput[];
}

const DAY = 86_400_000;
const localDate = (at: number, timeZone: string): string => {
  const l = localTime(at, timeZone);
  return `${l.year}-${String(l.month).padStart(2, '0')}-${String(l.day).padStart(2, '0')}`;
};

/** The scenario of some picks; `start` (the test's server time at the start) places the holidays on the next two days. */
export function opsScenario(p: OpsPicks, start: number): OpsScenario {
  const hours = p.hours % OPS_PICK_RANGES.hours;
  let businessHours: BusinessHoursInput | null = null;
  if (hours === 1) {
    businessHours = {
      name: 'Shanghai office / 上海办公室', timeZone: 'Asia/Shanghai',
      weekly: [1, 2, 3, 4, 5].flatMap((day) => [{ day, open: '09:00', close: '12:00' }, { day, open: '13:00', close: '18:00' }]),
      holidays: [
        { date: localDate(start + DAY, 'Asia/Shanghai'), name: 'Half day / 半天', hours: [{ open: '09:00', close: '12:00' }] },
        { date: localDate(start + 2 * DAY, 'Asia/Shanghai'), name: 'Holiday / 假日', hours: [] },
      ],
    };
  } else if (hours === 2) {
    businessHours = { name: 'New York', timeZone: 'America/New_York', weekly: [0, 1, 2, 3, 4, 5, 6].map((day) => ({ day, open: '08:00', close: '20:00' })), holidays: [] };
  }
  const lifecycle: Partial<LifecycleSettings> = [
    { autoResolvePendingAfterSeconds: 3600, reopenWindowSeconds: 1800 },
    { autoResolvePendingAfterSeconds: null, reopenWindowSeconds: null },
    {},
  ][p.lifecycle % OPS_PICK_RANGES.lifecycle]!;
  const ack: AutoReplyMessage = { text: { en: 'Thanks {{contact.name}}, we got your message (ticket {{ticket.number}}).', 'zh-CN': '{{contact.name}}，您好，我们已收到您的消息（工单 {{ticket.number}}）。' } };
  const ooh: AutoReplyMessage = { text: { en: 'We are closed now; we open {{business.nextOpening}}.', 'zh-CN': '我们现在下班了，{{business.nextOpening}} 开门。' } };
  const autoReply = [null, { acknowledge: ack }, { acknowledge: ack, outOfHours: ooh, windowMinutes: 30 }][p.autoReply % OPS_PICK_RANGES.autoReply]!;
  return {
    businessHours,
    lifecycle,
    inbox: { autoReply, csat: p.csat ? { enabled: true } : null },
    slaPolicy(ids) {
      switch (p.sla % OPS_PICK_RANGES.sla) {
        case 1:
          return {
            name: 'Default / 默认', isDefault: true, inboxIds: [], teamIds: [], businessHoursId: null,
            targets: {
              urgent: { firstResponseSeconds: 300, nextResponseSeconds: 300, resolutionSeconds: 3600 },
              high: { firstResponseSeconds: 600, nextResponseSeconds: 600, resolutionSeconds: 2 * 3600 },
              normal: { firstResponseSeconds: 900, nextResponseSeconds: 600, resolutionSeconds: 4 * 3600 },
            },
            warning: { percent: 50 }, escalation: { raisePriority: false, notify: true, reassignToSupervisor: false }, active: true,
          };
        case 2:
          return {
            name: 'Inboxes in business time / 工作时间', isDefault: false, inboxIds: [...ids.inboxIds], teamIds: [], businessHoursId: ids.businessHoursId,
            targets: {
              normal: { firstResponseSeconds: 1200, resolutionSeconds: 3600 }, high: { firstResponseSeconds: 600, nextResponseSeconds: 900 },
              low: { resolutionSeconds: 8 * 3600 },
            },
            warning: { minutesBefore: 5 }, escalation: { raisePriority: true, notify: true, reassignToSupervisor: true }, active: true,
          };
        default:
          return null;
      }
    },
    rules(ids) {
      const level = p.automation % OPS_PICK_RANGES.automation;
      if (level === 0) return [];
      const keyword: AutomationRuleInput = {
        name: 'Invoices to billing / 发票', event: 'message_received', enabled: true,
        conditions: { match: 'all', items: [{ field: 'text', containsAny: ['invoice', '发票', '处理'] }] },
        actions: [{ type: 'add_label', label: 'billing' }, { type: 'set_priority', priority: 'high' }],
      };
      if (level === 1) return [keyword];
      return [
        keyword,
        // Two rules that would undo each other forever: loop protection stops them.
        { name: 'Escalate high / 升级', event: 'priority_changed', enabled: true, conditions: { match: 'all', items: [{ field: 'priority', in: ['high'] }] }, actions: [{ type: 'set_priority', priority: 'urgent' }] },
        { name: 'Calm urgent / 降级', event: 'priority_changed', enabled: true, conditions: { match: 'all', items: [{ field: 'priority', in: ['urgent'] }] }, actions: [{ type: 'set_priority', priority: 'high' }] },
        { name: 'SLA warning to support / SLA 预警', event: 'sla_warning', enabled: true, conditions: { match: 'all', items: [] }, actions: [{ type: 'add_label', label: 'vip' }, { type: 'assign_team', teamId: ids.teamId }] },
        { name: 'Closed hours snooze / 下班稍后', event: 'conversation_created', enabled: true, conditions: { match: 'all', items: [{ field: 'business_hours', state: 'closed' }] }, actions: [{ type: 'snooze', forMinutes: 45 }] },
      ];
    },
  };
}

/**
 * What the ops facts of one conversation must never show, whatever happened (the convergence tests
 * check every conversation): an SLA warning or breach twice for one run of a clock (metric and due
 * date), more than one CSAT survey, two automatic replies within the window, or an automatic outgoing
 * message that is not an ops fact (auto-reply, survey, automation template). Returns the problems.
 */
export function opsFactProblems(conversationId: string, messages: readonly Message[], o: { autoReplyWindowMs: number }): string[] {
  const problems: string[] = [];
  const sla = messages.filter((m) => m.kind === 'event' && m.meta['action'] === 'sla').map((m) => `${String(m.meta['sla'])} ${String(m.meta['metric'])} due ${String(m.meta['dueAt'])}`);
  const seen = new Set<string>();
  for (const k of sla) {
    if (seen.has(k)) problems.push(`${conversationId}: SLA ${k} twice`);
    seen.add(k);
  }
  const surveys = messages.filter((m) => m.meta['csatSurvey'] === true);
  if (surveys.length > 1) problems.push(`${conversationId}: ${surveys.length} CSAT surveys`);
  const replies = messages.filter((m) => m.meta['autoReply'] === true).map((m) => m.createdAt).sort((a, b) => a - b);
  for (let i = 1; i < replies.length; i++) {
    if (replies[i]! - replies[i - 1]! < o.autoReplyWindowMs) problems.push(`${conversationId}: two auto-replies ${replies[i]! - replies[i - 1]!} ms apart`);
  }
  for (const m of messages) {
    if (m.authorType !== 'system' || m.direction !== 'out' || m.kind === 'event') continue;
    if (m.meta['autoReply'] !== true && m.meta['csatSurvey'] !== true && m.meta['automation'] === undefined) problems.push(`${conversationId}: system message ${m.id} is no ops fact`);
  }
  return problems;
}

// Deterministic fixture builders for tests of core and of every LocalStore adapter.
// Defaults are fixed values; ids come from a counter (reset it with resetFixtureIds()).
import { CHANNELS, CONVERSATION_STATUSES, PRIORITIES, type Agent, type Channel, type Contact, type Conversation, type Inbox, type Message, type Team } from '../domain/model.js';
import { laneOf, type Command } from '../commands/commands.js';
import type { FactBatch, OutboxEntry } from '../ports/storage.js';
import { seededRandom } from '../util/random.js';

/** The seeded generator (core's util), as the tests have always imported it from here. */
export { seededRandom };

export const FIXTURE_TENANT = 'tenant-1';
/** 2023-11-14T22:13:20Z: the base time of every fixture. */
export const FIXTURE_TIME = 1_700_000_000_000;

let counter = 0;

/** Restarts the id counter so a test gets the same ids whatever ran before it. */
export function resetFixtureIds(): void {
  counter = 0;
}

function nextId(prefix: string): string {
  counter += 1;
  return `${prefix}-${String(counter).padStart(4, '0')}`;
}

/** A valid, deterministic UUIDv7 whose time part is `time` and whose random part encodes `n`. */
export function fixtureUuidv7(n: number, time: number = FIXTURE_TIME): string {
  const t = time.toString(16).padStart(12, '0').slice(-12);
  const r = n.toString(16).padStart(15, '0').slice(-15);
  return `${t.slice(0, 8)}-${t.slice(8, 12)}-7${r.slice(0, 3)}-8${r.slice(3, 6)}-${r.slice(6, 15).padStart(12, '0')}`;
}

export function makeConversation(overrides: Partial<Conversation> = {}): Conversation {
  return {
    id: overrides.id ?? nextId('conv'),
    tenantId: FIXTURE_TENANT,
    inboxId: 'inbox-email',
    channel: 'email',
    contactId: 'contact-1',
    contactName: 'Alice Example',
    teamId: null,
    status: 'open',
    priority: 'normal',
    assigneeId: null,
    labels: [],
    subject: null,
    lastMessagePreview: 'Hello',
    lastMessageDirection: 'in',
    lastMessageAt: FIXTURE_TIME,
    waitingSince: null,
    snoozedUntil: null,
    messageCount: 1,
    createdAt: FIXTURE_TIME,
    updatedAt: FIXTURE_TIME,
    seq: 1,
    ...overrides,
  };
}

export function makeMessage(overrides: Partial<Message> = {}): Message {
  return {
    id: overrides.id ?? nextId('msg'),
    tenantId: FIXTURE_TENANT,
    conversationId: 'conv-1',
    direction: 'in',
    kind: 'text',
    authorType: 'contact',
    authorId: null,
    text: 'Hello',
    subject: null,
    attachments: [],
    status: null,
    statusReason: null,
    deviceTime: null,
    serverTime: FIXTURE_TIME,
    createdAt: FIXTURE_TIME,
    meta: {},
    seq: 1,
    ...overrides,
  };
}

export function makeContact(overrides: Partial<Contact> = {}): Contact {
  return {
    id: overrides.id ?? nextId('contact'),
    tenantId: FIXTURE_TENANT,
    name: 'Alice Example',
    identities: [{ channel: 'email', identifier: 'alice@example.com' }],
    attributes: {},
    createdAt: FIXTURE_TIME,
    updatedAt: FIXTURE_TIME,
    seq: 1,
    ...overrides,
  };
}

export function makeInbox(overrides: Partial<Inbox> = {}): Inbox {
  return {
    id: overrides.id ?? nextId('inbox'),
    tenantId: FIXTURE_TENANT,
    name: 'Support email',
    channel: 'email',
    provider: 'imap',
    teamIds: [],
    createdAt: FIXTURE_TIME,
    seq: 1,
    ...overrides,
  };
}

export function makeAgent(overrides: Partial<Agent> = {}): Agent {
  const id = overrides.id ?? nextId('agent');
  return {
    id,
    tenantId: FIXTURE_TENANT,
    email: `${id}@example.com`,
    name: 'Agent Smith',
    role: 'agent',
    teamIds: [],
    active: true,
    seq: 1,
    ...overrides,
  };
}

export function makeTeam(overrides: Partial<Team> = {}): Team {
  return { id: overrides.id ?? nextId('team'), tenantId: FIXTURE_TENANT, name: 'Support', seq: 1, ...overrides };
}

/** A `send_reply` command unless overridden (pass a whole command to get another type). */
export function makeCommand(overrides: Partial<Extract<Command, { type: 'send_reply' }>> = {}): Command {
  counter += 1;
  return {
    id: fixtureUuidv7(counter),
    deviceTime: FIXTURE_TIME,
    type: 'send_reply',
    conversationId: 'conv-1',
    text: 'Thanks, we are on it.',
    ...overrides,
  };
}

export function makeOutboxEntry(overrides: Partial<OutboxEntry> = {}): OutboxEntry {
  const command = overrides.command ?? makeCommand();
  return {
    id: command.id,
    lane: laneOf(command),
    command,
    state: 'pending',
    attempts: 0,
    nextAttemptAt: FIXTURE_TIME,
    order: 1,
    error: null,
    ackSeq: null,
    createdAt: FIXTURE_TIME,
    ...overrides,
  };
}

export function makeFactBatch(parts: Partial<FactBatch> = {}): FactBatch {
  return { conversations: [], messages: [], contacts: [], inboxes: [], agents: [], teams: [], ...parts };
}

export interface GenerateConversationsOptions {
  seed?: number;
  /** Agent ids to assign; a share of rows stays unassigned. Default: 8 agents. */
  agentIds?: readonly string[];
  /** Inboxes with their channel. Default: one per channel. */
  inboxes?: readonly { id: string; channel: Channel }[];
  teamIds?: readonly string[];
  /**
   * Distinct lastMessageAt values are drawn from this many minutes, so small values make ties
   * (which the id tie-break must resolve). Default: 10 times the row count.
   */
  timeSpreadMinutes?: number;
  idPrefix?: string;
}

const NAMES = ['Alice Example', 'Bob Builder', '张伟', '王芳', 'Carol Ng', '李娜 (Lina)', 'Dmitri Ivanov', 'Émile Zola'];
const SUBJECTS = [null, 'Refund request', '退款申请', 'Invoice #4411', 'Login problem', '发票问题', 'Delivery late'];
const PREVIEWS = ['Hello, I need help', '我的订单还没有到', 'Where is my parcel?', 'Please call me back', '谢谢！', 'ACME account locked'];
const LABELS = ['vip', 'billing', 'bug', '投诉', 'refund'];

/** A deterministic pseudo-random set of conversations (same seed, same rows) with many ties. */
export function generateConversations(count: number, options: GenerateConversationsOptions = {}): Conversation[] {
  const rnd = seededRandom(options.seed ?? 1);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const agentIds = options.agentIds ?? Array.from({ length: 8 }, (_, i) => `agent-${i + 1}`);
  const inboxes = options.inboxes ?? CHANNELS.map((channel) => ({ id: `inbox-${channel}`, channel }));
  const teamIds = options.teamIds ?? ['team-a', 'team-b', 'team-c'];
  const spread = options.timeSpreadMinutes ?? Math.max(1, count * 10);
  const prefix = options.idPrefix ?? 'c';
  const width = String(count).length;
  const rows: Conversation[] = [];
  for (let i = 0; i < count; i++) {
    const inbox = pick(inboxes);
    const lastMessageAt = FIXTURE_TIME + Math.floor(rnd() * spread) * 60_000;
    const waiting = rnd() < 0.4;
    const labelCount = Math.floor(rnd() * 3);
    const labels = [...new Set(Array.from({ length: labelCount }, () => pick(LABELS)))].sort();
    const status = pick(CONVERSATION_STATUSES);
    rows.push({
      id: `${prefix}${String(i).padStart(width, '0')}`,
      tenantId: FIXTURE_TENANT,
      inboxId: inbox.id,
      channel: inbox.channel,
      contactId: `contact-${i % 997}`,
      contactName: pick(NAMES),
      teamId: rnd() < 0.25 ? null : pick(teamIds),
      status,
      priority: pick(PRIORITIES),
      assigneeId: rnd() < 0.3 ? null : pick(agentIds),
      labels,
      subject: pick(SUBJECTS),
      lastMessagePreview: pick(PREVIEWS),
      lastMessageDirection: waiting ? 'in' : 'out',
      lastMessageAt,
      waitingSince: waiting ? lastMessageAt - Math.floor(rnd() * 120) * 60_000 : null,
      snoozedUntil: status === 'snoozed' ? lastMessageAt + 86_400_000 : null,
      messageCount: 1 + Math.floor(rnd() * 40),
      createdAt: lastMessageAt - 3_600_000,
      updatedAt: lastMessageAt,
      seq: i + 1,
    });
  }
  return rows;
}

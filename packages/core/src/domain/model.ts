import { z } from 'zod';

/** Ids are opaque strings; client-made ids are UUIDv7. */
export const Id = z.string().min(1).max(128).regex(/^[A-Za-z0-9_.:-]+$/, 'id may contain letters, digits, _ . : - only');
/** Milliseconds since the Unix epoch. */
export const Millis = z.number().int().nonnegative();

export const ROLES = ['admin', 'supervisor', 'agent'] as const;
export const Role = z.enum(ROLES);
export type Role = z.infer<typeof Role>;

export const CHANNELS = ['api', 'email', 'sms', 'voice', 'im', 'wechat', 'web'] as const;
export const Channel = z.enum(CHANNELS);
export type Channel = z.infer<typeof Channel>;

export const CONVERSATION_STATUSES = ['open', 'pending', 'snoozed', 'resolved', 'closed'] as const;
export const ConversationStatus = z.enum(CONVERSATION_STATUSES);
export type ConversationStatus = z.infer<typeof ConversationStatus>;

export const PRIORITIES = ['urgent', 'high', 'normal', 'low'] as const;
export const Priority = z.enum(PRIORITIES);
export type Priority = z.infer<typeof Priority>;
/** Sort rank: lower is more urgent. */
export const PRIORITY_RANK: Record<Priority, number> = { urgent: 0, high: 1, normal: 2, low: 3 };

export const MESSAGE_DIRECTIONS = ['in', 'out'] as const;
export const MessageDirection = z.enum(MESSAGE_DIRECTIONS);
export type MessageDirection = z.infer<typeof MessageDirection>;

export const MESSAGE_KINDS = ['text', 'note', 'email', 'voice', 'call', 'event'] as const;
export const MessageKind = z.enum(MESSAGE_KINDS);
export type MessageKind = z.infer<typeof MessageKind>;

export const DELIVERY_STATUSES = ['queued', 'sending', 'accepted', 'delivered', 'failed'] as const;
export const DeliveryStatus = z.enum(DELIVERY_STATUSES);
export type DeliveryStatus = z.infer<typeof DeliveryStatus>;

export const AUTHOR_TYPES = ['agent', 'contact', 'system'] as const;
export const AuthorType = z.enum(AUTHOR_TYPES);
export type AuthorType = z.infer<typeof AuthorType>;

export const Label = z.string().trim().min(1).max(64);

export const Tenant = z.object({
  id: Id,
  slug: z.string().min(1).max(64),
  name: z.string().min(1).max(200),
  createdAt: Millis,
});
export type Tenant = z.infer<typeof Tenant>;

export const Team = z.object({
  id: Id,
  tenantId: Id,
  name: z.string().min(1).max(200),
  seq: z.number().int().nonnegative(),
});
export type Team = z.infer<typeof Team>;

/** [routing] An agent's availability: only `online` agents are offered conversations. */
export const AVAILABILITIES = ['online', 'busy', 'away', 'offline'] as const;
export const Availability = z.enum(AVAILABILITIES);
export type Availability = z.infer<typeof Availability>;
/** [routing] A per-agent capacity: one number for every channel, or per channel (`{sms: 5, email: 10}`). */
export const AgentCapacity = z.union([
  z.number().int().min(1).max(1000),
  z.partialRecord(Channel, z.number().int().min(1).max(1000)).refine((r) => Object.keys(r).length > 0, 'give a capacity for at least one channel'),
]);
export type AgentCapacity = z.infer<typeof AgentCapacity>;

export const Agent = z.object({
  id: Id,
  tenantId: Id,
  email: z.string().email().max(320),
  name: z.string().min(1).max(200),
  role: Role,
  teamIds: z.array(Id),
  active: z.boolean(),
  /** [routing] What routing sees: the agent's choice, their devices' presence and a call in progress (rules/routing.ts). */
  availability: Availability.optional(),
  /** [routing] What the agent chose (the switch in the apps); `availability` is offline without a connected device. */
  chosenAvailability: Availability.optional(),
  /** [routing] Open+pending conversations the agent takes: one number for every channel, or per channel. */
  capacity: AgentCapacity.nullable().optional(),
  /** [routing] Skills (matched against labels and contact attributes such as `tier: vip`) and languages (`zh`, `en`). */
  skills: z.array(z.string().trim().min(1).max(64)).max(50).optional(),
  languages: z.array(z.string().trim().min(1).max(35)).max(20).optional(),
  seq: z.number().int().nonnegative(),
  /** A custom role (rules/permissions.ts): its permission set replaces the built-in role's. */
  roleId: Id.nullable().optional(),
});
export type Agent = z.infer<typeof Agent>;

export const ROUTING_STRATEGIES = ['manual', 'round_robin', 'least_loaded'] as const;
export const RoutingStrategy = z.enum(ROUTING_STRATEGIES);
export type RoutingStrategy = z.infer<typeof RoutingStrategy>;

/** How new conversations of an inbox find an agent (PATCH /api/v1/inboxes/{id} `routing`). */
export const InboxRouting = z.object({
  strategy: RoutingStrategy,
  /** Default per-agent capacity (open conversations) on this inbox's channel, when the agent sets none. */
  capacity: z.number().int().min(1).max(1000).optional(),
  /** Skills/languages an agent must have to be offered this inbox's conversations. */
  skills: z.array(z.string().trim().min(1).max(64)).max(50).optional(),
});
export type InboxRouting = z.infer<typeof InboxRouting>;

/** A text in the languages Goutong speaks; the customer's language picks one, the other is the fallback. */
export const LocalizedText = z
  .object({ en: z.string().max(10_000).optional(), 'zh-CN': z.string().max(10_000).optional() })
  .refine((t) => Boolean(t.en?.trim() || t['zh-CN']?.trim()), 'give the text in at least one language (en or zh-CN)');
export type LocalizedText = z.infer<typeof LocalizedText>;

/** An automatic message: a managed template by id, or text written in place (with {{variables}}). */
export const AutoReplyMessage = z
  .object({ templateId: Id.optional(), text: LocalizedText.optional(), subject: LocalizedText.optional() })
  .refine((m) => Boolean(m.templateId) !== Boolean(m.text), 'name a templateId or give text, not both');
export type AutoReplyMessage = z.infer<typeof AutoReplyMessage>;

/** [automation] An inbox's CSAT survey: on/off, a template (else the built-in text), the public base URL of the survey link. */
export const InboxCsat = z.object({
  enabled: z.boolean(),
  templateId: Id.optional(),
  baseUrl: z.string().url().max(2000).refine((u) => /^https?:\/\//i.test(u), 'http(s) URLs only').optional(),
});
export type InboxCsat = z.infer<typeof InboxCsat>;

/** Service operations settings of an inbox: routing, business hours, automatic replies. */
export const InboxOps = z.object({
  routing: InboxRouting.default({ strategy: 'manual' }),
  businessHoursId: Id.nullable().default(null),
  autoReply: z
    .object({
      acknowledge: AutoReplyMessage.nullable().optional(),
      outOfHours: AutoReplyMessage.nullable().optional(),
      /** [automation] At most one automatic reply per conversation in this many minutes (default 24 h). */
      windowMinutes: z.number().int().min(1).max(60 * 24 * 30).optional(),
    })
    .default({}),
  /** [automation] Customer satisfaction survey after resolution (off when absent). */
  csat: InboxCsat.optional(),
});
export type InboxOps = z.infer<typeof InboxOps>;
export const DEFAULT_INBOX_OPS: InboxOps = { routing: { strategy: 'manual' }, businessHoursId: null, autoReply: {} };

/** An inbox is one channel account. Provider configuration (secrets) never leaves the server. */
export const Inbox = z.object({
  id: Id,
  tenantId: Id,
  name: z.string().min(1).max(200),
  channel: Channel,
  provider: z.string().max(64).nullable(),
  teamIds: z.array(Id),
  /** Routing, business hours and automatic replies (absent on rows written before they existed). */
  ops: InboxOps.optional(),
  createdAt: Millis,
  seq: z.number().int().nonnegative(),
});
export type Inbox = z.infer<typeof Inbox>;

export const ContactIdentity = z.object({
  channel: Channel,
  /** Phone number (E.164), email address, IM user id, or the api inbox's external id. */
  identifier: z.string().min(1).max(320),
});
export type ContactIdentity = z.infer<typeof ContactIdentity>;

export const ContactAttributes = z.record(z.string().max(64), z.string().max(2000));

export const Contact = z.object({
  id: Id,
  tenantId: Id,
  name: z.string().max(200),
  identities: z.array(ContactIdentity),
  attributes: ContactAttributes,
  createdAt: Millis,
  updatedAt: Millis,
  seq: z.number().int().nonnegative(),
});
export type Contact = z.infer<typeof Contact>;

/** The SLA clocks an SLA policy runs on a conversation (server facts; see rules/sla.ts). */
export const SLA_METRICS = ['first_response', 'next_response', 'resolution'] as const;
export const SlaMetric = z.enum(SLA_METRICS);
export type SlaMetric = z.infer<typeof SlaMetric>;
/** A customer's mood as the sentiment rule reads it (rules/sentiment.ts). */
export const SENTIMENTS = ['positive', 'neutral', 'negative'] as const;
export const Sentiment = z.enum(SENTIMENTS);
export type Sentiment = z.infer<typeof Sentiment>;

export const ConversationSla = z.object({
  policyId: Id,
  /** When each running target is due (null: not running, met, or not set by the policy). */
  firstResponseDueAt: Millis.nullable(),
  nextResponseDueAt: Millis.nullable(),
  resolutionDueAt: Millis.nullable(),
  /** Every target this conversation has breached (each named once). */
  breached: z.array(SlaMetric),
  /** When the warning of each running target is due. */
  warnAt: z.object({ first_response: Millis.nullable(), next_response: Millis.nullable(), resolution: Millis.nullable() }).partial().default({}),
  /** The targets warned about / breached in their current run (a next response runs again after each customer message). */
  warned: z.array(SlaMetric).default([]),
  fired: z.array(SlaMetric).default([]),
  /** Since when the clocks are paused (pending or snoozed), null while running. */
  pausedAt: Millis.nullable().default(null),
  /** The first agent reply as the server accepted it, and the device time it was written at. */
  firstResponseAt: Millis.nullable().default(null),
  firstResponseDeviceTime: Millis.nullable().default(null),
  /** The priority the due dates were computed for. */
  priority: Priority.optional(),
  /** When the clocks stopped (resolved or closed), null while the conversation is worked on. */
  stoppedAt: Millis.nullable().default(null),
});
export type ConversationSla = z.infer<typeof ConversationSla>;

export const Conversation = z.object({
  id: Id,
  tenantId: Id,
  inboxId: Id,
  /** Channel of the inbox, denormalised so the index filters by channel without a join. */
  channel: Channel,
  contactId: Id,
  /** Contact's display name, denormalised for the index and local search. */
  contactName: z.string().max(200),
  teamId: Id.nullable(),
  status: ConversationStatus,
  priority: Priority,
  assigneeId: Id.nullable(),
  labels: z.array(Label),
  subject: z.string().max(998).nullable(),
  /** Preview of the last message (plain text, at most 200 characters). */
  lastMessagePreview: z.string().max(200),
  lastMessageDirection: MessageDirection.nullable(),
  lastMessageAt: Millis,
  /** Since when the customer waits for an answer (first unanswered inbound), null when answered. */
  waitingSince: Millis.nullable(),
  snoozedUntil: Millis.nullable(),
  messageCount: z.number().int().nonnegative(),
  createdAt: Millis,
  updatedAt: Millis,
  seq: z.number().int().nonnegative(),
  /** SLA clocks, when a policy applies (absent on rows written before SLA policies existed). */
  sla: ConversationSla.nullable().optional(),
  /** [automation] Short per-tenant ticket number (sequential), allocated when the conversation is created. */
  ticketNumber: z.number().int().positive().optional(),
  /** [automation] The conversation this duplicate was merged into (it is closed; its messages moved there). */
  mergedIntoId: Id.nullable().optional(),
  /** [automation] Related conversations (linked both ways). */
  relatedIds: z.array(Id).max(50).optional(),
  /** [automation] The customer's satisfaction answer, once given. */
  csat: z.object({ rating: z.number().int().min(1).max(5), comment: z.string().max(2000).nullable() }).nullable().optional(),
  /** [insight] Sentiment of the customer's latest text message (rules/sentiment.ts), absent before one was scored. */
  sentiment: Sentiment.nullable().optional(),
});
export type Conversation = z.infer<typeof Conversation>;

export const Attachment = z.object({
  id: Id,
  name: z.string().min(1).max(255),
  mime: z.string().min(1).max(255),
  size: z.number().int().nonnegative(),
  /** Content hash (sha256, hex) when stored by the server. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  url: z.string().max(2000).optional(),
});
export type Attachment = z.infer<typeof Attachment>;

export const Message = z.object({
  id: Id,
  tenantId: Id,
  conversationId: Id,
  direction: MessageDirection,
  kind: MessageKind,
  authorType: AuthorType,
  authorId: Id.nullable(),
  text: z.string().max(100_000),
  subject: z.string().max(998).nullable(),
  attachments: z.array(Attachment),
  /** Delivery status of outgoing messages; null for inbound messages, notes and events. */
  status: DeliveryStatus.nullable(),
  statusReason: z.string().max(2000).nullable(),
  /** When the author's device made the intent (may be long before the server saw it). */
  deviceTime: Millis.nullable(),
  /** When the server durably stored the message. */
  serverTime: Millis,
  createdAt: Millis,
  /** Channel-specific metadata (email headers, call details, provider ids). */
  meta: z.record(z.string(), z.unknown()),
  seq: z.number().int().nonnegative(),
});
export type Message = z.infer<typeof Message>;

import type { Message } from '../../domain/model.js';
import type { OutboxEntry } from '../../ports/storage.js';
import type { Command } from '../../commands/commands.js';

/**
 * Where an outbound message is, as every app shows it:
 *  - queued: waiting (on this device for the server, or on the server for the provider);
 *  - sending: on its way (pushed to the server, or handed to the provider);
 *  - sent: the provider accepted it;
 *  - delivered: the provider reported it delivered;
 *  - failed: the server rejected the command, or the provider refused it (with a reason).
 */
export const DELIVERY_STATES = ['queued', 'sending', 'sent', 'delivered', 'failed'] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

/** Who holds the message: this device (outbox, upload queue) or the server (relay to the provider). */
export type DeliveryStage = 'device' | 'server';

/**
 * Why a message failed or waits, as a key the apps translate (`delivery.reason.<key>`); the raw
 * provider text stays available beside it.
 */
export const FAILURE_REASONS = [
  'no_recipient',
  'invalid_recipient',
  'unsubscribed',
  'window_closed',
  'window_quota',
  'no_interaction',
  'blocked',
  'content_rejected',
  'unsupported_content',
  'too_large',
  'attachment_missing',
  'empty',
  'partial',
  'rate_limited',
  'provider_auth',
  'provider_config',
  'provider_rejected',
  'provider_unreachable',
  'session_taken',
  'forbidden',
  'not_found',
  'conflict',
  'invalid',
  'upload_failed',
  'unknown',
] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

/** How long an outbound message may wait (queued or sending) before the apps call it stuck. */
export const STUCK_AFTER_MS = 2 * 60_000;

const TWILIO: Record<string, FailureReason> = {
  '21211': 'invalid_recipient',
  '21214': 'invalid_recipient',
  '21217': 'invalid_recipient',
  '21407': 'invalid_recipient',
  '21408': 'provider_config',
  '21606': 'provider_config',
  '21608': 'provider_config',
  '21610': 'unsubscribed',
  '21612': 'invalid_recipient',
  '21614': 'invalid_recipient',
  '20003': 'provider_auth',
  '20429': 'rate_limited',
  '30003': 'invalid_recipient',
  '30004': 'blocked',
  '30005': 'invalid_recipient',
  '30006': 'invalid_recipient',
  '30007': 'content_rejected',
  '30008': 'provider_rejected',
};

const WECHAT: Record<string, FailureReason> = {
  '40001': 'provider_auth',
  '40003': 'invalid_recipient',
  '40007': 'attachment_missing',
  '40013': 'provider_auth',
  '40014': 'provider_auth',
  '40125': 'provider_auth',
  '40164': 'provider_config',
  '42001': 'provider_auth',
  '43004': 'unsubscribed',
  '45009': 'rate_limited',
  '45015': 'window_closed',
  '45047': 'window_quota',
  '95000': 'provider_config',
  '95001': 'rate_limited',
  '95002': 'rate_limited',
  '95013': 'window_closed',
  '95016': 'window_closed',
  '95017': 'provider_config',
};

const WILDFIRE: Record<string, FailureReason> = {
  '2': 'content_rejected',
  '8': 'blocked',
  '9': 'blocked',
  '10': 'content_rejected',
  '22': 'provider_config',
  '27': 'provider_auth',
  '239': 'provider_auth',
  '241': 'blocked',
  '242': 'content_rejected',
  '243': 'provider_auth',
  '244': 'provider_auth',
  '246': 'blocked',
  '247': 'blocked',
  '248': 'provider_auth',
};

const ALIYUN: Array<[RegExp, FailureReason]> = [
  [/MOBILE_NUMBER_ILLEGAL|MOBILE_COUNT_OVER_LIMIT|PARAM_LENGTH|InvalidPhoneNumbers/i, 'invalid_recipient'],
  [/BLACK_KEY|BLACKLIST|CONTENT_KEYWORD|TEMPLATE_PARAMS_ILLEGAL|SMS_CONTENT/i, 'content_rejected'],
  [/DAY_LIMIT|MINUTE_LIMIT|HOUR_LIMIT|LIMIT_CONTROL|Throttling/i, 'rate_limited'],
  [/AMOUNT_NOT_ENOUGH|OUT_OF_SERVICE|ACCOUNT_ABNORMAL|ACCOUNT_NOT_EXISTS|SIGNATURE|TEMPLATE|InvalidAccessKey|Forbidden|NoPermission/i, 'provider_config'],
];

const GENERIC: Record<string, FailureReason> = {
  no_recipient: 'no_recipient',
  unsupported_content: 'unsupported_content',
  unsupported_channel: 'unsupported_content',
  too_large: 'too_large',
  attachment_missing: 'attachment_missing',
  empty: 'empty',
  partial: 'partial',
  kf_session_taken: 'session_taken',
  window_closed: 'window_closed',
  window_quota: 'window_quota',
  unsubscribed: 'unsubscribed',
  no_interaction: 'no_interaction',
  wechat_token: 'provider_auth',
  smtp_rejected: 'invalid_recipient',
  forbidden: 'forbidden',
  not_found: 'not_found',
  conflict: 'conflict',
  bad_request: 'invalid',
  invalid: 'invalid',
};

/**
 * Maps what a failure fact or a rejected command carries (the provider's error code in
 * `meta.errorCode`, the command's error code, the reason text) to a reason the UI can say in the
 * agent's language. Codes: our channels' `twilio_<n>`, `aliyun_<Code>`, `wechat_<errcode>`,
 * `wildfire_<code>`, `smtp_<reply>`, `http_<status>` and the shared ones (`no_recipient`, …).
 */
export function failureReasonOf(code: string | null | undefined, reason?: string | null): FailureReason {
  const c = (code ?? '').trim();
  if (c) {
    if (GENERIC[c]) return GENERIC[c]!;
    const m = /^([a-z]+)_(.+)$/.exec(c);
    if (m) {
      const [, family, rest] = m as unknown as [string, string, string];
      switch (family) {
        case 'twilio':
          return TWILIO[rest] ?? 'provider_rejected';
        case 'wechat':
          return WECHAT[rest] ?? 'provider_rejected';
        case 'wildfire':
          return WILDFIRE[rest] ?? 'provider_rejected';
        case 'aliyun':
          return ALIYUN.find(([re]) => re.test(rest))?.[1] ?? 'provider_rejected';
        case 'smtp': {
          const n = Number(rest);
          if (n === 552) return 'too_large';
          if (n === 550 || n === 551 || n === 553) return 'invalid_recipient';
          if (n === 535 || n === 530) return 'provider_auth';
          return 'provider_rejected';
        }
        case 'http': {
          const n = Number(rest);
          if (n === 401 || n === 403) return 'provider_auth';
          if (n === 404) return 'provider_config';
          if (n === 413) return 'too_large';
          if (n === 429) return 'rate_limited';
          return 'provider_rejected';
        }
        default:
          break;
      }
    }
  }
  const r = (reason ?? '').toLowerCase();
  if (!r) return 'unknown';
  if (r.startsWith('gave up after') || r.startsWith('retrying:')) return 'provider_unreachable';
  if (r.startsWith('no provider') || r === 'inbox not found') return 'provider_config';
  if (/no (phone number|email address|wechat|wildfirechat)/.test(r)) return 'no_recipient';
  return c ? 'provider_rejected' : 'unknown';
}

/** What the apps show under an outbound message. */
export interface DeliveryView {
  state: DeliveryState;
  stage: DeliveryStage;
  /** Waited longer than STUCK_AFTER_MS, or the server keeps retrying an unreachable provider. */
  stuck: boolean;
  /** Failed, or waiting behind a provider that does not answer: why, for the UI's language. */
  reason: FailureReason | null;
  /** The raw text (provider's or server's), shown one click away. */
  detail: string | null;
  /**
   * What "retry" does: `outbox` retries the command on this device, `upload` the upload queue's
   * entry, `resend` sends the same reply again as a new message (the provider refused the first);
   * null: nothing to retry.
   */
  retry: 'outbox' | 'upload' | 'resend' | null;
}

/** The upload-queue state the clients merge into a pending message's meta. */
interface UploadMeta {
  state?: 'waiting' | 'uploading' | 'failed';
  error?: string | null;
}

/** Whether a message is outbound and tracked for delivery (replies; not notes, events or calls). */
export function isDeliverable(m: Pick<Message, 'direction' | 'kind' | 'authorType'>): boolean {
  return m.direction === 'out' && m.authorType === 'agent' && (m.kind === 'text' || m.kind === 'email');
}

/**
 * The delivery of one outbound message (core rule, one for every app): from the client's merged
 * message (outbox and upload-queue overlays in `meta`, facts in `status`), its outbox entry when it
 * has one, and the time now. Null for messages without delivery (inbound, notes, events).
 */
export function deliveryOf(m: Message, opts: { now: number; entry?: OutboxEntry | null; stuckAfterMs?: number }): DeliveryView | null {
  if (!isDeliverable(m)) return null;
  const meta = m.meta as { failed?: unknown; error?: { code?: unknown; message?: unknown }; upload?: UploadMeta; queued?: unknown; queueState?: unknown; queueError?: unknown; errorCode?: unknown };
  const stuckAfter = opts.stuckAfterMs ?? STUCK_AFTER_MS;
  const since = m.deviceTime ?? m.createdAt;
  const waitedTooLong = opts.now - since > stuckAfter;
  const upload = meta.upload;
  if (upload?.state === 'failed' || meta.queueState === 'failed') {
    const detail = upload?.error ?? (typeof meta.queueError === 'string' ? meta.queueError : null);
    return { state: 'failed', stage: 'device', stuck: false, reason: 'upload_failed', detail, retry: 'upload' };
  }
  if (upload || meta.queued === true) {
    return { state: upload?.state === 'uploading' ? 'sending' : 'queued', stage: 'device', stuck: waitedTooLong, reason: null, detail: null, retry: null };
  }
  const entry = opts.entry ?? null;
  if (meta.failed === true || entry?.state === 'failed') {
    const err = entry?.error ?? (meta.error && typeof meta.error === 'object' ? { code: String(meta.error.code ?? ''), message: String(meta.error.message ?? '') } : null);
    return { state: 'failed', stage: 'device', stuck: false, reason: failureReasonOf(err?.code, err?.message ?? m.statusReason), detail: err?.message ?? m.statusReason, retry: 'outbox' };
  }
  if (entry && entry.state !== 'acked') {
    return { state: entry.state === 'inflight' ? 'sending' : 'queued', stage: 'device', stuck: waitedTooLong, reason: null, detail: null, retry: null };
  }
  switch (m.status) {
    case 'failed': {
      const code = typeof meta.errorCode === 'string' ? meta.errorCode : null;
      return { state: 'failed', stage: 'server', stuck: false, reason: failureReasonOf(code, m.statusReason), detail: m.statusReason, retry: 'resend' };
    }
    case 'delivered':
      return { state: 'delivered', stage: 'server', stuck: false, reason: null, detail: null, retry: null };
    case 'accepted':
      return { state: 'sent', stage: 'server', stuck: false, reason: null, detail: null, retry: null };
    case 'queued':
    case 'sending': {
      // The relay records `retrying: <provider's answer>` while the provider cannot be reached.
      const retrying = (m.statusReason ?? '').startsWith('retrying:');
      return {
        state: m.status,
        stage: entry ? 'device' : 'server',
        stuck: retrying || waitedTooLong,
        reason: retrying ? 'provider_unreachable' : null,
        detail: retrying ? m.statusReason : null,
        retry: null,
      };
    }
    case null:
      // A pending reply of the outbox without a status yet.
      return { state: 'queued', stage: 'device', stuck: waitedTooLong, reason: null, detail: null, retry: null };
    default:
      return assertNeverStatus(m.status);
  }
}

function assertNeverStatus(s: never): never {
  throw new Error(`unknown delivery status ${String(s)}`);
}

/** What a queued command does, for the outbox as people read it ("Reply to Wang Fang: …"). */
export type CommandSummaryKind = 'reply' | 'note' | 'status' | 'assign' | 'priority' | 'label' | 'unlabel' | 'contact' | 'call' | 'merge' | 'link' | 'read';

export interface CommandSummary {
  kind: CommandSummaryKind;
  conversationId: string | null;
  /** The reply's or note's text, the label, the status or priority: one line, at most 80 characters. */
  detail: string;
}

function assertNeverCommand(c: never): never {
  throw new Error(`unknown command ${(c as { type?: string }).type}`);
}

function oneLine(s: string, max = 80): string {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

/** Summarises a command for people (the apps add the contact's name and translate the kind). */
export function summarizeCommand(c: Command): CommandSummary {
  switch (c.type) {
    case 'send_reply':
      return { kind: 'reply', conversationId: c.conversationId, detail: oneLine(c.text || (c.attachments ?? []).map((a) => a.name).join(', ')) };
    case 'add_note':
      return { kind: 'note', conversationId: c.conversationId, detail: oneLine(c.text) };
    case 'set_status':
      return { kind: 'status', conversationId: c.conversationId, detail: c.status };
    case 'assign':
      return { kind: 'assign', conversationId: c.conversationId, detail: c.assigneeId ?? '' };
    case 'set_priority':
      return { kind: 'priority', conversationId: c.conversationId, detail: c.priority };
    case 'add_label':
      return { kind: 'label', conversationId: c.conversationId, detail: c.label };
    case 'remove_label':
      return { kind: 'unlabel', conversationId: c.conversationId, detail: c.label };
    case 'update_contact':
      return { kind: 'contact', conversationId: null, detail: '' };
    case 'log_call':
      return { kind: 'call', conversationId: c.conversationId ?? null, detail: c.phone ?? '' };
    case 'merge_conversation':
      return { kind: 'merge', conversationId: c.conversationId, detail: '' };
    case 'link_conversation':
      return { kind: 'link', conversationId: c.conversationId, detail: '' };
    case 'mark_read':
      return { kind: 'read', conversationId: c.conversationId, detail: '' };
    default:
      return assertNeverCommand(c);
  }
}

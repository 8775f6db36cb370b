import { assertNever } from '../util/assert.js';

/**
 * Reply windows of messaging channels: a business may answer a user only for a while after the user's
 * last interaction, and (WeCom customer service) only a few times per interaction.
 *
 * - WeChat Official Account (公众号) customer-service messages (`message/custom/send`): within 48 hours
 *   after the user sent a message, subscribed, clicked a menu or scanned a code; never to a user who
 *   unsubscribed (the platform answers 45015 "response out of time limit" / 43004 "require subscribe").
 * - WeChat Customer Service (微信客服, `kf/send_msg`): within 48 hours after the customer's last message,
 *   at most 5 messages (the platform answers 95001/95002 beyond that).
 */
export type ChannelWindowPolicy = 'wechat_official' | 'wecom_kf';

export const WINDOW_HOURS = 48;
const HOUR = 3_600_000;

export interface ChannelWindowState {
  /** When the user last interacted (message or opening event), ms; null when never. */
  lastUserInteractionAt: number | null;
  /** The user's last event was an unsubscribe (Official Account): nothing may be sent until they come back. */
  unsubscribed?: boolean | undefined;
  /** Messages already sent (accepted) to the user since their last interaction (WeCom kf's quota). */
  sentSinceInteraction?: number | undefined;
  now: number;
}

export type ChannelWindowDecision =
  | { open: true; closesAt: number; remaining: number | null }
  | { open: false; code: 'window_closed' | 'window_quota' | 'unsubscribed' | 'no_interaction'; reason: string };

/** At most this many messages per customer interaction (WeCom kf). */
export const WECOM_KF_QUOTA = 5;

function quotaOf(policy: ChannelWindowPolicy): number | null {
  switch (policy) {
    case 'wechat_official':
      return null;
    case 'wecom_kf':
      return WECOM_KF_QUOTA;
    default:
      return assertNever(policy);
  }
}

function label(policy: ChannelWindowPolicy): string {
  switch (policy) {
    case 'wechat_official':
      return 'WeChat Official Account';
    case 'wecom_kf':
      return 'WeChat Customer Service';
    default:
      return assertNever(policy);
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** May a message go to the user now? A closed window is final for that message: say why. */
export function decideChannelWindow(policy: ChannelWindowPolicy, s: ChannelWindowState): ChannelWindowDecision {
  const name = label(policy);
  if (s.unsubscribed) {
    return { open: false, code: 'unsubscribed', reason: `${name}: the user has unfollowed the account; no message can be sent until they follow it again and write` };
  }
  if (s.lastUserInteractionAt === null) {
    return { open: false, code: 'no_interaction', reason: `${name}: the user has not written to the account, so it may not send them a message` };
  }
  const closesAt = s.lastUserInteractionAt + WINDOW_HOURS * HOUR;
  if (s.now >= closesAt) {
    const hours = Math.floor((s.now - s.lastUserInteractionAt) / HOUR);
    return {
      open: false,
      code: 'window_closed',
      reason: `${name}: the ${WINDOW_HOURS}-hour reply window closed at ${iso(closesAt)} (the user's last message was ${hours} hours ago); the user must write again before you can answer`,
    };
  }
  const quota = quotaOf(policy);
  if (quota !== null) {
    const used = s.sentSinceInteraction ?? 0;
    if (used >= quota) {
      return { open: false, code: 'window_quota', reason: `${name}: ${quota} messages were already sent since the customer's last message; the customer must write again before you can send more` };
    }
    return { open: true, closesAt, remaining: quota - used };
  }
  return { open: true, closesAt, remaining: null };
}

import type { Contact } from '@goutong/core';
import type { HookExtension } from '../provider.js';
import { recordOptOut } from '../../domain/channelFacts.js';

/** Keywords that opt a number out (carrier and Twilio conventions, and the Chinese 退订/TD). */
export const OPT_OUT_KEYWORDS = ['STOP', 'STOPALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT', 'OPTOUT', 'REVOKE', '退订', 'TD', 'T', '取消订阅'];
/** Keywords that opt back in. */
export const OPT_IN_KEYWORDS = ['START', 'UNSTOP', 'YES', 'SUBSCRIBE', '订阅', '恢复订阅'];

/** `out` / `in` when the whole message is an opt-out / opt-in keyword (case, spaces and end punctuation ignored). */
export function optKeyword(text: string): 'out' | 'in' | null {
  const t = text.normalize('NFKC').trim().replace(/[\s.!。！,，]+$/u, '').toUpperCase();
  if (!t || t.length > 20) return null;
  if (OPT_OUT_KEYWORDS.includes(t)) return 'out';
  if (OPT_IN_KEYWORDS.includes(t)) return 'in';
  return null;
}

/** Why nothing may go to a contact who opted out, or null. */
export function optedOutVeto(contact: Contact, channel: string): { reason: string; code: string } | null {
  if (contact.attributes['optedOut'] !== 'true') return null;
  const kw = contact.attributes['optedOutKeyword'];
  return { reason: `the recipient opted out of ${channel === 'sms' ? 'SMS' : channel}${kw ? ` (replied "${kw}")` : ''}; nothing was sent`, code: 'opted_out' };
}

/**
 * Opt-out: on every provider that `uses: ['optout']` (the SMS providers), an inbound that is only
 * STOP/退订/TD… opts the contact out and START/订阅… opts back in (a server-written fact on the
 * contact); and nothing goes out to a contact who opted out, checked again right before sending in
 * case the opt-out arrived after the reply was queued. Runs on duplicate deliveries too, so a crash
 * between storing the message and recording the opt-out is repaired by the provider's retry.
 */
export function optOutExtension(): HookExtension {
  return {
    kind: 'extension',
    name: 'optout',
    async afterInbound({ inbox, result }, deps) {
      const kw = optKeyword(result.message.text);
      if (!kw) return;
      await recordOptOut(deps.workspace, result.conversation.contactId, { optedOut: kw === 'out', keyword: result.message.text.trim(), channel: inbox.channel, at: Date.now() });
    },
    async beforeSend(ctx) {
      return optedOutVeto(ctx.contact, ctx.inbox.channel);
    },
  };
}

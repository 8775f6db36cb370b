import { z } from 'zod';
import type { HookExtension } from '../provider.js';

/** The part of an inbox's config this extension reads (the provider's schema validates it). */
const AutoReplySettings = z.object({
  autoReply: z.object({ text: z.string().min(1).max(10_000), subject: z.string().max(998).optional() }).optional(),
});

/**
 * Auto-reply: the first inbound of a new conversation gets an automatic acknowledgement, the
 * inbox's `autoReply` text, on every provider that `uses: ['autoreply']` (e-mail). Never to
 * automatic mail (auto-submitted, bounces, lists: meta.autoSubmitted), never twice (only when the
 * stored message opened the conversation, not on a duplicate delivery). The reply goes through
 * Workspace.enqueueSystemReply, the same reply path (message fact + relay job) as an agent's reply.
 */
export function autoReplyExtension(): HookExtension {
  return {
    kind: 'extension',
    name: 'autoreply',
    async afterInbound({ inbox, result }, deps) {
      if (result.duplicate || result.conversation.messageCount !== 1) return;
      if (result.message.meta['autoSubmitted']) return;
      const settings = await deps.inboxSettings(inbox.id);
      const cfg = AutoReplySettings.safeParse(settings?.config ?? {});
      const auto = cfg.success ? cfg.data.autoReply : undefined;
      if (!auto) return;
      const subject = auto.subject ?? (result.message.subject ? `Re: ${result.message.subject}` : null);
      await deps.workspace.enqueueSystemReply(result.conversation.id, auto.text, subject, { autoReply: true });
    },
  };
}

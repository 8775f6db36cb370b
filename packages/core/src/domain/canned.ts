import { z } from 'zod';
import { Id, Millis } from './model.js';

export const CannedResponse = z.object({
  id: Id,
  tenantId: Id,
  /** Typed after `/` in the composer. */
  shortCode: z.string().trim().min(1).max(64).regex(/^[\p{L}\p{N}_.-]+$/u, 'letters, digits, _ . - only'),
  title: z.string().trim().min(1).max(200),
  /** Text with variables such as {{contact.name}}, {{agent.name}}, {{conversation.id}}. */
  body: z.string().min(1).max(10_000),
  createdAt: Millis,
  updatedAt: Millis,
});
export type CannedResponse = z.infer<typeof CannedResponse>;

export interface CannedContext {
  contact?: { name?: string | null; attributes?: Record<string, string> } | null;
  agent?: { name?: string | null; email?: string | null } | null;
  conversation?: { id?: string | null; subject?: string | null } | null;
  inbox?: { name?: string | null } | null;
}

/**
 * Fills a canned response's variables. Unknown variables stay visible as typed (so the agent
 * notices them before sending); known ones with no value become empty.
 */
export function renderCanned(body: string, ctx: CannedContext): string {
  return body.replace(/\{\{\s*([a-z]+)\.([A-Za-z0-9_]+)\s*\}\}/g, (whole, scope: string, key: string) => {
    switch (scope) {
      case 'contact':
        if (key === 'name') return ctx.contact?.name ?? '';
        if (key === 'firstName' || key === 'first_name') return (ctx.contact?.name ?? '').trim().split(/\s+/)[0] ?? '';
        return ctx.contact?.attributes?.[key] ?? whole;
      case 'agent':
        if (key === 'name') return ctx.agent?.name ?? '';
        if (key === 'email') return ctx.agent?.email ?? '';
        return whole;
      case 'conversation':
        if (key === 'id') return ctx.conversation?.id ?? '';
        if (key === 'subject') return ctx.conversation?.subject ?? '';
        return whole;
      case 'inbox':
        if (key === 'name') return ctx.inbox?.name ?? '';
        return whole;
      default:
        return whole;
    }
  });
}

/** Canned responses matching what the agent typed after `/` (short code first, then title). */
export function searchCanned(list: readonly CannedResponse[], typed: string): CannedResponse[] {
  const q = typed.trim().toLowerCase();
  if (!q) return [...list].sort((a, b) => a.shortCode.localeCompare(b.shortCode));
  const starts = list.filter((c) => c.shortCode.toLowerCase().startsWith(q));
  const rest = list.filter((c) => !starts.includes(c) && (c.shortCode.toLowerCase().includes(q) || c.title.toLowerCase().includes(q)));
  return [...starts.sort((a, b) => a.shortCode.localeCompare(b.shortCode)), ...rest];
}

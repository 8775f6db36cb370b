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
  /** [automation] The conversation's ticket number. */
  ticket?: { number?: number | null } | null;
  /** [automation] The next opening of the inbox's business hours, already formatted for the customer. */
  business?: { nextOpening?: string | null } | null;
  /** [automation] The customer's satisfaction survey link. */
  csat?: { link?: string | null } | null;
}

/** The variables a template may use (besides `contact.<attribute>`): anything else is refused at save. */
export const TEMPLATE_VARIABLES: readonly string[] = [
  'contact.name', 'contact.firstName', 'contact.first_name', 'agent.name', 'agent.email', 'conversation.id', 'conversation.subject',
  'inbox.name', 'ticket.number', 'business.nextOpening', 'csat.link',
];

const VARIABLE_RE = /\{\{\s*([a-z]+)\.([A-Za-z0-9_]+)\s*\}\}/g;

/** The variables of a text that the renderer does not know (`{{foo.bar}}`, `{{ticket.nope}}`), as typed. */
export function unknownVariables(body: string): string[] {
  const out: string[] = [];
  for (const m of body.matchAll(VARIABLE_RE)) {
    const name = `${m[1]}.${m[2]}`;
    if (m[1] === 'contact' || TEMPLATE_VARIABLES.includes(name)) continue;
    if (!out.includes(name)) out.push(name);
  }
  // A brace pair that is not a variable at all ({{ name }}, {{contact}}) is unknown as well.
  for (const m of body.matchAll(/\{\{([^}]*)\}\}/g)) {
    if (!/^\s*[a-z]+\.[A-Za-z0-9_]+\s*$/.test(m[1] ?? '')) out.push(m[0]);
  }
  return out;
}

/**
 * Fills a canned response's variables. Unknown variables stay visible as typed (so the agent
 * notices them before sending); known ones with no value become empty.
 */
export function renderCanned(body: string, ctx: CannedContext): string {
  return body.replace(VARIABLE_RE, (whole, scope: string, key: string) => {
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
      case 'ticket':
        if (key === 'number') return ctx.ticket?.number != null ? String(ctx.ticket.number) : '';
        return whole;
      case 'business':
        if (key === 'nextOpening') return ctx.business?.nextOpening ?? '';
        return whole;
      case 'csat':
        if (key === 'link') return ctx.csat?.link ?? '';
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

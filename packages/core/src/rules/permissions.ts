import { z } from 'zod';
import { Id, type Agent, type Inbox, type Role } from '../domain/model.js';

/**
 * Permissions: a role is a permission set. The built-in roles (admin, supervisor, agent) are fixed
 * sets below; admins define custom roles (an agent's `roleId`). Every access decision of the product
 * asks these functions, never a role name.
 */
export const PERMISSIONS = [
  'conversation.reply',
  'conversation.assign',
  'conversation.close',
  'conversation.move_team',
  'contact.edit',
  'canned.manage',
  'settings.manage',
  'agents.manage',
  'roles.manage',
  'reports.view',
  'data.export',
  'pii.view',
  'pii.reveal',
  'audit.view',
  'apikeys.manage',
  'optout.manage',
  /** Listen to (and whisper on) an agent's live call from the softphone. */
  'calls.monitor',
] as const;
export const Permission = z.enum(PERMISSIONS);
export type Permission = z.infer<typeof Permission>;

/** Which inboxes a role reaches: every inbox, the agent's teams' inboxes (and those of no team), or listed ones. */
export const PermissionScope = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('all') }).strict(),
  z.object({ kind: z.literal('teams') }).strict(),
  z.object({ kind: z.literal('listed'), inboxIds: z.array(Id).max(500), teamIds: z.array(Id).max(500) }).strict(),
]);
export type PermissionScope = z.infer<typeof PermissionScope>;

/** An IPv4 or IPv6 CIDR range (`10.0.0.0/8`, `2001:db8::/32`). */
export const Cidr = z.string().max(64).refine((s) => parseCidr(s) !== null, 'must be an IPv4 or IPv6 CIDR range such as 10.0.0.0/8');

/** Sign-in hours: minutes of the day [from, to) in a fixed UTC offset, on the listed week days (0 = Sunday). */
export const SignInHours = z
  .object({
    from: z.number().int().min(0).max(1439),
    to: z.number().int().min(1).max(1440),
    days: z.array(z.number().int().min(0).max(6)).min(1).max(7),
    utcOffsetMinutes: z.number().int().min(-840).max(840),
  })
  .strict()
  .refine((h) => h.from < h.to, 'from must be before to');

export const PermissionSet = z
  .object({
    /** Personal-data visibility is the `pii.view` action, exports are `data.export`. */
    actions: z.array(Permission).max(PERMISSIONS.length),
    scope: PermissionScope,
    ipRanges: z.array(Cidr).max(50).optional(),
    hours: SignInHours.optional(),
  })
  .strict();
export type PermissionSet = z.infer<typeof PermissionSet>;

/** A custom role as the server stores it. */
export const CustomRole = z.object({
  id: Id,
  tenantId: Id,
  name: z.string().trim().min(1).max(100),
  permissions: PermissionSet,
  createdAt: z.number().int().nonnegative(),
  updatedAt: z.number().int().nonnegative(),
});
export type CustomRole = z.infer<typeof CustomRole>;

const MANAGER_ACTIONS: Permission[] = [
  'conversation.reply', 'conversation.assign', 'conversation.close', 'conversation.move_team', 'contact.edit', 'canned.manage',
  'agents.manage', 'reports.view', 'data.export', 'pii.view', 'pii.reveal', 'audit.view', 'calls.monitor',
];

/** The built-in roles. The `agent` role lacks pii.view: agents receive personal data masked. */
export const BUILTIN_ROLES: Readonly<Record<Role, PermissionSet>> = {
  admin: { actions: [...PERMISSIONS], scope: { kind: 'all' } },
  supervisor: { actions: MANAGER_ACTIONS, scope: { kind: 'all' } },
  agent: { actions: ['conversation.reply', 'conversation.assign', 'contact.edit'], scope: { kind: 'teams' } },
};

/** An agent as access decisions see it: its built-in role, and the permission set of its custom role when it has one. */
export type Principal = Pick<Agent, 'role' | 'teamIds'> & { permissions?: PermissionSet | undefined };

export function permissionsOf(p: Pick<Principal, 'role' | 'permissions'>): PermissionSet {
  return p.permissions ?? BUILTIN_ROLES[p.role];
}

export function can(p: Pick<Principal, 'role' | 'permissions'>, action: Permission): boolean {
  return permissionsOf(p).actions.includes(action);
}

/** Whether the principal reaches every inbox of the tenant (and so every contact). */
export function seesAllInboxes(p: Pick<Principal, 'role' | 'permissions'>): boolean {
  return permissionsOf(p).scope.kind === 'all';
}

/** Whether a principal may see (and act on) conversations of an inbox. */
export function scopeAllowsInbox(p: Principal, inbox: Pick<Inbox, 'id' | 'teamIds'> | Pick<Inbox, 'teamIds'>): boolean {
  const scope = permissionsOf(p).scope;
  switch (scope.kind) {
    case 'all':
      return true;
    case 'teams':
      return inbox.teamIds.length === 0 || inbox.teamIds.some((t) => p.teamIds.includes(t));
    case 'listed': {
      const id = (inbox as { id?: string }).id;
      return (id !== undefined && scope.inboxIds.includes(id)) || inbox.teamIds.some((t) => scope.teamIds.includes(t));
    }
    default: {
      const never: never = scope;
      throw new Error(`unknown scope ${JSON.stringify(never)}`);
    }
  }
}

// ----- sign-in restrictions -------------------------------------------------------------

type ParsedIp = { v: 4 | 6; bytes: number[] };

function parseIpv4(s: string): number[] | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    out.push(n);
  }
  return out;
}

function parseIpv6(s: string): number[] | null {
  let text = s;
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.') && lastColon >= 0) {
    const v4 = parseIpv4(text.slice(lastColon + 1));
    if (!v4) return null;
    tail = v4;
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const groups = (h: string) => (h === '' ? [] : h.split(':'));
  const head = groups(halves[0] ?? '');
  const rest = halves.length === 2 ? groups(halves[1] ?? '') : [];
  const missing = 8 - head.length - rest.length;
  if ((halves.length === 1 && missing !== 0) || missing < 0) return null;
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...rest];
  const bytes: number[] = [];
  for (const g of all) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
    const n = parseInt(g, 16);
    bytes.push(n >> 8, n & 0xff);
  }
  if (tail.length === 4) bytes.splice(12, 4, ...tail);
  return bytes.length === 16 ? bytes : null;
}

export function parseIp(s: string): ParsedIp | null {
  const t = s.trim();
  const v4 = parseIpv4(t);
  if (v4) return { v: 4, bytes: v4 };
  const v6 = parseIpv6(t);
  if (!v6) return null;
  // An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is that IPv4 address.
  if (v6.slice(0, 10).every((b) => b === 0) && v6[10] === 0xff && v6[11] === 0xff) return { v: 4, bytes: v6.slice(12) };
  return { v: 6, bytes: v6 };
}

export function parseCidr(s: string): { ip: ParsedIp; bits: number } | null {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s.trim());
  if (!m) return null;
  const ip = parseIp(m[1] ?? '');
  const bits = Number(m[2]);
  if (!ip || bits > (ip.v === 4 ? 32 : 128)) return null;
  return { ip, bits };
}

export function ipInCidr(ip: string, cidr: string): boolean {
  const a = parseIp(ip);
  const c = parseCidr(cidr);
  if (!a || !c || a.v !== c.ip.v) return false;
  let bits = c.bits;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if (((a.bytes[i] ?? 0) & mask) !== ((c.ip.bytes[i] ?? 0) & mask)) return false;
  }
  return true;
}

export type SignInCheck = { ok: true } | { ok: false; reason: 'ip' | 'hours'; message: string };

/** Whether a principal may sign in (and use the API) from this address at this time. */
export function checkSignIn(p: Pick<Principal, 'role' | 'permissions'>, ip: string, nowMs: number): SignInCheck {
  const set = permissionsOf(p);
  if (set.ipRanges && set.ipRanges.length > 0 && !set.ipRanges.some((r) => ipInCidr(ip, r))) {
    return { ok: false, reason: 'ip', message: 'sign-in is not allowed from this network for your role' };
  }
  if (set.hours) {
    const local = new Date(nowMs + set.hours.utcOffsetMinutes * 60_000);
    const minute = local.getUTCHours() * 60 + local.getUTCMinutes();
    if (!set.hours.days.includes(local.getUTCDay()) || minute < set.hours.from || minute >= set.hours.to) {
      return { ok: false, reason: 'hours', message: 'sign-in is not allowed at this time for your role' };
    }
  }
  return { ok: true };
}

/** A custom role may only grant what its creator holds (no escalation through the roles editor). */
export function decideRoleGrant(actor: Pick<Principal, 'role' | 'permissions'>, wanted: PermissionSet): { ok: true } | { ok: false; message: string } {
  if (!can(actor, 'roles.manage')) return { ok: false, message: 'requires the roles.manage permission' };
  const extra = wanted.actions.filter((a) => !can(actor, a));
  if (extra.length > 0) return { ok: false, message: `you cannot grant permissions you lack: ${extra.join(', ')}` };
  if (wanted.scope.kind === 'all' && !seesAllInboxes(actor)) return { ok: false, message: 'you cannot grant access to all inboxes' };
  return { ok: true };
}

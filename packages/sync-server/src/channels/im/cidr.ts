import net from 'node:net';
import { z } from 'zod';

/** `10.0.0.0/8`, `fd00::/8`, or a single address (`192.0.2.7`, `::1`). */
export function parseCidr(s: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | null {
  const [addr, bits, ...rest] = s.trim().split('/');
  if (!addr || rest.length > 0) return null;
  const v = net.isIP(addr);
  if (v === 0) return null;
  const max = v === 4 ? 32 : 128;
  if (bits !== undefined && !/^\d{1,3}$/.test(bits)) return null;
  const prefix = bits === undefined ? max : Number(bits);
  if (prefix > max) return null;
  return { address: addr, prefix, family: v === 4 ? 'ipv4' : 'ipv6' };
}

export const Cidr = z.string().max(64).refine((s) => parseCidr(s) !== null, 'an IPv4 or IPv6 address or CIDR block (e.g. 10.0.0.0/8)');

/** `::ffff:10.1.2.3` (an IPv4 client on a dual-stack socket) is checked as `10.1.2.3`. */
function normalise(address: string): { address: string; family: 'ipv4' | 'ipv6' } | null {
  const a = address.trim();
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(a);
  if (mapped && net.isIPv4(mapped[1]!)) return { address: mapped[1]!, family: 'ipv4' };
  const v = net.isIP(a);
  return v === 0 ? null : { address: a, family: v === 4 ? 'ipv4' : 'ipv6' };
}

/** A source-address allow-list (node's BlockList does the matching). */
export function cidrMatcher(blocks: readonly string[]): (address: string | undefined) => boolean {
  const list = new net.BlockList();
  for (const b of blocks) {
    const c = parseCidr(b);
    if (!c) throw new Error(`not a CIDR block: ${b}`);
    list.addSubnet(c.address, c.prefix, c.family);
  }
  return (address) => {
    if (!address) return false;
    const n = normalise(address);
    return n !== null && list.check(n.address, n.family);
  };
}

// HTTP listener, unauthenticated routes (sign-up): who is calling — the address the operator's own
// proxies saw, not what the caller wrote into X-Forwarded-For.
//
// Each proxy appends the address it received the request from. Walking the chain from the socket peer
// leftwards, every hop written by a trusted proxy is believed until the first address that is not a
// trusted proxy: that is the client. Anything further left was written by the client and is ignored,
// so rotating it (`random, 127.0.0.1` included) changes nothing.

import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';
import type { Subnet } from '../../config.js';

/** The client address of a request, given the trusted proxies (config.ts: TRUSTED_PROXIES, TRUST_PROXY). */
export function createClientAddress(trustedProxies: readonly Subnet[]): (req: IncomingMessage) => string {
  const trusted = new BlockList();
  for (const { address, prefix, type } of trustedProxies) trusted.addSubnet(address, prefix, type);
  const isTrusted = (address: string) => {
    const version = isIP(address);
    return version !== 0 && trusted.check(address, version === 4 ? 'ipv4' : 'ipv6');
  };
  return (req) => {
    let client = unmapped(req.socket.remoteAddress ?? '');
    if (trustedProxies.length === 0 || !isTrusted(client)) return client || 'unknown';
    const forwarded = req.headers['x-forwarded-for'];
    const hops = (Array.isArray(forwarded) ? forwarded.join(',') : (forwarded ?? '')).split(',');
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = unmapped(hops[i]!.trim());
      // Not an address: a trusted proxy would not write it, so the hop right of it is as far as we trust.
      if (isIP(hop) === 0) break;
      client = hop;
      if (!isTrusted(hop)) break;
    }
    return client;
  };
}

/**
 * What the per-address limit counts: the address, or its /64 for IPv6 (one subscriber usually holds a
 * whole /64, so counting single IPv6 addresses would give each of them 2^64 tries).
 */
export function addressLimitKey(address: string): string {
  if (isIP(address) !== 6) return address;
  return `${expandIpv6(address).slice(0, 4).join(':')}::/64`;
}

/** `::ffff:192.0.2.1` (an IPv4 client on a dual-stack socket) → `192.0.2.1`. */
function unmapped(address: string): string {
  return address.toLowerCase().startsWith('::ffff:') && isIP(address.slice(7)) === 4
    ? address.slice(7)
    : address;
}

/** The eight 16-bit groups of an IPv6 address, lower-case hex without leading zeros. */
function expandIpv6(address: string): string[] {
  const [head = '', tail] = address.toLowerCase().split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  // An embedded IPv4 tail (::ffff:1.2.3.4 style) takes two groups; it never reaches the first four.
  const width = (groups: string[]) => groups.reduce((n, g) => n + (g.includes('.') ? 2 : 1), 0);
  const zeros = Array.from({ length: 8 - width(left) - width(right) }, () => '0');
  return [...left, ...(tail === undefined ? [] : zeros), ...right].map((g) =>
    g.includes('.') ? g : (Number.parseInt(g, 16) || 0).toString(16),
  );
}

// Address choice for a server, as Nodepool 0.x offers it: a public (floating, access or
// globally routable) address before a private (fixed, RFC 1918 / ULA / loopback) one, unless
// the provider says `use-private-address`; within a kind IPv4 before IPv6 unless
// `ipv6-preferred`. Pure: drivers report every address, this picks the one SSH uses.

export interface ServerAddress {
  addr: string;
  version: 4 | 6;
  /** How the cloud attached it: `fixed` (on a port), `floating`, or `access` (accessIPv4/6). */
  type: 'fixed' | 'floating' | 'access';
  /** The network it is on, when the cloud says. */
  network: string | null;
}

export interface AddressPolicy {
  ipv6Preferred?: boolean;
  usePrivate?: boolean;
}

export function addressVersion(addr: string): 4 | 6 | null {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(addr)) return 4;
  if (addr.includes(':') && /^[0-9a-f:.]+$/i.test(addr)) return 6;
  return null;
}

/** Not reachable from outside its own network: RFC 1918, CGNAT, loopback, link-local, ULA. */
export function isPrivateAddress(addr: string): boolean {
  if (addressVersion(addr) === 4) {
    const [a, b] = addr.split('.').map(Number);
    return a === 10 || a === 127 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254) || (a === 100 && b >= 64 && b <= 127);
  }
  const lower = addr.toLowerCase();
  return lower === '::1' || /^f[cd]/.test(lower) || /^fe[89ab]/.test(lower);
}

/** Floating and access addresses are public by definition; a fixed one when it is routable. */
export function isPublic(a: ServerAddress): boolean {
  return a.type === 'floating' || a.type === 'access' || !isPrivateAddress(a.addr);
}

/** The address to use, or null when the server has none. */
export function chooseAddress(addresses: readonly ServerAddress[], policy: AddressPolicy = {}): string | null {
  const kinds = policy.usePrivate ? [false, true] : [true, false];
  const versions: (4 | 6)[] = policy.ipv6Preferred ? [6, 4] : [4, 6];
  for (const pub of kinds) {
    for (const v of versions) {
      const hit = addresses.find((a) => a.version === v && isPublic(a) === pub);
      if (hit) return hit.addr;
    }
  }
  return null;
}

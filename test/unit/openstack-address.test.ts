// Address choice (providers/address.ts) and how the Nova mapping feeds it.
import { describe, expect, it } from 'vitest';
import { chooseAddress, isPrivateAddress, type ServerAddress } from '../../providers/address.js';
import { toCloudServer } from '../../providers/openstack/nova.js';

const fixed = (addr: string, network = 'net'): ServerAddress => ({ addr, version: addr.includes(':') ? 6 : 4, type: 'fixed', network });
const floating = (addr: string): ServerAddress => ({ addr, version: addr.includes(':') ? 6 : 4, type: 'floating', network: 'net' });

describe('chooseAddress', () => {
  const mixed = [fixed('10.0.0.5'), fixed('fd00::5'), floating('203.0.113.7'), fixed('2001:db8:1::7')];

  it('prefers a public (floating or routable) address, IPv4 first', () => {
    expect(chooseAddress(mixed)).toBe('203.0.113.7');
  });

  it('ipv6-preferred picks the public IPv6 address', () => {
    expect(chooseAddress(mixed, { ipv6Preferred: true })).toBe('2001:db8:1::7');
  });

  it('use-private-address picks the fixed private address, IPv4 first unless ipv6-preferred', () => {
    expect(chooseAddress(mixed, { usePrivate: true })).toBe('10.0.0.5');
    expect(chooseAddress(mixed, { usePrivate: true, ipv6Preferred: true })).toBe('fd00::5');
  });

  it('falls back to a private address, and to IPv6 when there is no IPv4', () => {
    expect(chooseAddress([fixed('127.200.0.9')])).toBe('127.200.0.9');
    expect(chooseAddress([fixed('fd00:1::2')])).toBe('fd00:1::2');
    expect(chooseAddress([])).toBeNull();
  });

  it('classifies private ranges', () => {
    for (const a of ['10.1.2.3', '172.16.0.1', '192.168.1.1', '127.0.0.1', '169.254.1.1', '100.64.0.1', 'fd00::1', 'fe80::1', '::1']) expect(isPrivateAddress(a), a).toBe(true);
    for (const a of ['8.8.8.8', '172.32.0.1', '2001:db8::1']) expect(isPrivateAddress(a), a).toBe(false);
  });
});

describe('toCloudServer addresses', () => {
  it('reports every address, an IPv6-only server gets its IPv6 address, and the policy is applied', () => {
    const v6 = toCloudServer({ id: 'a', status: 'ACTIVE', addresses: { v6net: [{ addr: 'fd00:7::1', version: 6, 'OS-EXT-IPS:type': 'fixed' }] } });
    expect(v6.ip).toBe('fd00:7::1');
    expect(v6.addresses).toEqual([{ addr: 'fd00:7::1', version: 6, type: 'fixed', network: 'v6net' }]);
    const both = {
      id: 'b',
      status: 'ACTIVE',
      addresses: { priv: [{ addr: '10.0.0.3', version: 4, 'OS-EXT-IPS:type': 'fixed' }, { addr: '198.51.100.3', version: 4, 'OS-EXT-IPS:type': 'floating' }] },
    };
    expect(toCloudServer(both).ip).toBe('198.51.100.3');
    expect(toCloudServer(both, { usePrivate: true }).ip).toBe('10.0.0.3');
    expect(toCloudServer({ id: 'c', status: 'ACTIVE', addresses: {} })).toMatchObject({ ip: null, addresses: [] });
    expect(toCloudServer({ id: 'd', status: 'ERROR', fault: { code: 413, message: 'Quota exceeded for instances' } })).toMatchObject({ faultCode: 413 });
  });
});

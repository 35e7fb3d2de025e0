// Pure parts of the OpenStack emulator: microversion negotiation, routing, PRNG, SSH exec output.
import { describe, expect, it } from 'vitest';
import { negotiate } from '../../providers/openstack/emulator/microversion.js';
import { randomUuid, seededRng } from '../../src/prng.js';
import { matchRoute, type Route } from '../../providers/openstack/emulator/router.js';
import { execOutput, splitWords } from '../../providers/openstack/emulator/ssh.js';

describe('microversion negotiation', () => {
  it('defaults to 2.1, reads the modern header before the legacy one, maps latest to the maximum', () => {
    expect(negotiate({})).toMatchObject({ ok: true, version: { text: '2.1' } });
    expect(negotiate({ 'openstack-api-version': 'volume 3.5, compute 2.53' })).toMatchObject({ ok: true, version: { text: '2.53' } });
    expect(negotiate({ 'openstack-api-version': 'compute 2.60', 'x-openstack-nova-api-version': '2.3' })).toMatchObject({ version: { text: '2.60' } });
    expect(negotiate({ 'x-openstack-nova-api-version': '2.3' })).toMatchObject({ version: { text: '2.3' } });
    expect(negotiate({ 'openstack-api-version': 'compute latest' })).toMatchObject({ version: { text: '2.96' } });
  });

  it('answers 406 outside the range and 400 for a malformed version', () => {
    expect(negotiate({ 'openstack-api-version': 'compute 2.97' })).toMatchObject({ ok: false, status: 406 });
    expect(negotiate({ 'openstack-api-version': 'compute 2.0' })).toMatchObject({ ok: false, status: 406 });
    expect(negotiate({ 'openstack-api-version': 'compute 2.01' })).toMatchObject({ ok: false, status: 400 });
    expect(negotiate({ 'x-openstack-nova-api-version': 'abc' })).toMatchObject({ ok: false, status: 400 });
  });
});

describe('router', () => {
  const routes: Route<string>[] = [
    { method: 'GET', template: '/servers/{id}', handler: 'show' },
    { method: 'DELETE', template: '/servers/{id}', handler: 'delete' },
    { method: 'GET', template: '/servers/detail', handler: 'detail' },
  ];
  it('prefers literal segments, extracts params and reports 405 with the allowed methods', () => {
    expect(matchRoute(routes, 'GET', '/servers/detail')).toMatchObject({ kind: 'found', route: { handler: 'detail' } });
    expect(matchRoute(routes, 'GET', '/servers/abc')).toMatchObject({ kind: 'found', route: { handler: 'show' }, params: ['abc'] });
    expect(matchRoute(routes, 'DELETE', '/servers/detail')).toMatchObject({ kind: 'found', route: { handler: 'delete' }, params: ['detail'] });
    expect(matchRoute(routes, 'PUT', '/servers/abc')).toEqual({ kind: 'method-not-allowed', template: '/servers/{id}', allowed: ['GET', 'DELETE'] });
    expect(matchRoute(routes, 'GET', '/flavors')).toEqual({ kind: 'not-found' });
  });
});

describe('seeded ids', () => {
  it('replays the same UUIDs for the same seed, and differs across seeds', () => {
    const a = seededRng(5);
    const b = seededRng(5);
    const ids = [randomUuid(a), randomUuid(a)];
    expect([randomUuid(b), randomUuid(b)]).toEqual(ids);
    expect(ids[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(randomUuid(seededRng(6))).not.toBe(ids[0]);
  });
});

describe('emulated exec', () => {
  it('echoes echo arguments with quotes removed, honours -n, prints nothing for other commands', () => {
    expect(splitWords(`echo 'a  b' "c \\"d\\"" e`)).toEqual(['echo', 'a  b', 'c "d"', 'e']);
    expect(execOutput('echo nodepool-ok-123')).toBe('nodepool-ok-123\n');
    expect(execOutput('echo')).toBe('\n');
    expect(execOutput('echo -n x y')).toBe('x y');
    expect(execOutput('sudo reboot')).toBe('');
  });
});

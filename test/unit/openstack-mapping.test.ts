import { describe, expect, it } from 'vitest';
import {
  AuthError,
  BadRequestError,
  CloudServerError,
  ConfigError,
  ConflictError,
  NotFoundError,
  QuotaExceededError,
  RateLimitedError,
} from '../../src/errors.js';
import { httpError, retryAfterMs, cloudMessage } from '../../providers/openstack/http.js';
import { findEndpoint, identityV3Url, passwordAuthBody } from '../../providers/openstack/keystone.js';
import { mapServerStatus, nextQuery, pickIp, toCloudServer, uniqueById } from '../../providers/openstack/nova.js';
import { mapImageStatus, toCloudImage } from '../../providers/openstack/glance.js';
import { createDriver } from '../../providers/registry.js';
import type { ProviderConfig } from '../../src/config.js';

const NOW = Date.parse('2030-01-01T00:00:00Z');
const nova = (kind: string, message: string, code: number, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ [kind]: { message, code, ...extra } });

describe('Nova status mapping', () => {
  it.each([
    ['BUILD', null, 'building'],
    ['REBUILD', null, 'building'],
    ['ACTIVE', null, 'active'],
    ['ERROR', null, 'error'],
    ['DELETED', null, 'deleting'],
    ['SOFT_DELETED', null, 'deleting'],
    ['ACTIVE', 'deleting', 'deleting'],
    ['ERROR', 'deleting', 'deleting'],
    ['SHUTOFF', null, 'other'],
    ['UNKNOWN', null, 'other'],
    [undefined, null, 'other'],
  ] as const)('%s (task %s) -> %s', (status, task, want) => {
    expect(mapServerStatus(status, task)).toBe(want);
  });
});

describe('Nova server to CloudServer', () => {
  it('prefers a floating IPv4, skips IPv6, reads fault, az and metadata', () => {
    const s = toCloudServer({
      id: 'abc',
      name: 'node-1',
      status: 'ERROR',
      created: '2030-01-01T00:00:05Z',
      addresses: {
        private: [
          { addr: 'fd00::5', version: 6, 'OS-EXT-IPS:type': 'fixed' },
          { addr: '10.0.0.5', version: 4, 'OS-EXT-IPS:type': 'fixed' },
          { addr: '203.0.113.9', version: 4, 'OS-EXT-IPS:type': 'floating' },
        ],
      },
      metadata: { 'nodepool-node': '7' },
      fault: { message: 'No valid host was found.', code: 500 },
      'OS-EXT-AZ:availability_zone': 'nova',
      'OS-EXT-STS:task_state': null,
    });
    expect(s).toEqual({
      id: 'abc',
      name: 'node-1',
      status: 'error',
      rawStatus: 'ERROR',
      ip: '203.0.113.9',
      addresses: [
        { addr: 'fd00::5', version: 6, type: 'fixed', network: 'private' },
        { addr: '10.0.0.5', version: 4, type: 'fixed', network: 'private' },
        { addr: '203.0.113.9', version: 4, type: 'floating', network: 'private' },
      ],
      az: 'nova',
      metadata: { 'nodepool-node': '7' },
      fault: 'No valid host was found.',
      faultCode: 500,
      created: NOW + 5000,
    });
  });

  it('prefers a network named public over an earlier private one, else the first IPv4', () => {
    expect(
      pickIp({ private: [{ addr: '10.0.0.5', version: 4 }], public: [{ addr: '2001:db8::1', version: 6 }, { addr: '198.51.100.4', version: 4 }] }),
    ).toBe('198.51.100.4');
    expect(pickIp({ a: [{ addr: 'fd00::1', version: 6 }], b: [{ addr: '10.1.2.3', version: 4 }] })).toBe('10.1.2.3');
    expect(pickIp({})).toBeNull();
    expect(pickIp(undefined)).toBeNull();
  });

  it('reads the next-page query from servers_links', () => {
    expect(nextQuery([{ rel: 'next', href: 'http://other-host/v2.1/servers/detail?limit=2&marker=x1' }])).toBe('?limit=2&marker=x1');
    expect(nextQuery([{ rel: 'self', href: 'http://h/x?marker=1' }])).toBeNull();
    expect(nextQuery(undefined)).toBeNull();
  });
});

describe('Glance images', () => {
  it('maps status and keeps user properties as metadata', () => {
    expect(mapImageStatus('queued')).toBe('building');
    expect(mapImageStatus('active')).toBe('active');
    expect(mapImageStatus('killed')).toBe('error');
    expect(mapImageStatus('pending_delete')).toBe('deleting');
    expect(mapImageStatus('deactivated')).toBe('other');
    const img = toCloudImage({
      id: 'i1',
      name: 'ubuntu',
      status: 'active',
      created_at: '2030-01-01T00:00:00Z',
      visibility: 'private',
      size: 10,
      tags: [],
      nodepool_image_id: '42',
    });
    expect(img).toEqual({ id: 'i1', name: 'ubuntu', status: 'active', metadata: { nodepool_image_id: '42' }, created: NOW });
  });
});

describe('HTTP error mapping', () => {
  const map = (status: number, body: string, headers: Record<string, string> = {}) =>
    httpError('POST', '/compute/v2.1/servers', status, headers, body, NOW);

  it('404 -> NotFoundError with method, path, status and the cloud message', () => {
    const e = map(404, nova('itemNotFound', 'Instance abc could not be found.', 404));
    expect(e).toBeInstanceOf(NotFoundError);
    expect(e.message).toBe('POST /compute/v2.1/servers: 404 Instance abc could not be found.');
    expect(e.status).toBe(404);
  });

  it('403 and 413 with quota text -> QuotaExceededError', () => {
    const msg = 'Quota exceeded for instances: Requested 1, but already used 10 of 10 instances';
    expect(map(403, nova('forbidden', msg, 403))).toBeInstanceOf(QuotaExceededError);
    expect(map(413, nova('overLimit', msg, 413), { 'retry-after': '0' })).toBeInstanceOf(QuotaExceededError);
  });

  it('429 -> RateLimitedError with Retry-After in seconds or as an HTTP date', () => {
    const a = map(429, 'Too Many Requests', { 'retry-after': '3' });
    expect(a).toBeInstanceOf(RateLimitedError);
    expect((a as RateLimitedError).retryAfterMs).toBe(3000);
    const b = map(429, '', { 'retry-after': new Date(NOW + 7000).toUTCString() });
    expect((b as RateLimitedError).retryAfterMs).toBe(7000);
    const c = map(429, '');
    expect((c as RateLimitedError).retryAfterMs).toBeNull();
  });

  it('413 with Retry-After or a body retryAfter -> RateLimitedError', () => {
    const a = map(413, nova('overLimit', 'This request was rate-limited.', 413), { 'retry-after': '2' });
    expect(a).toBeInstanceOf(RateLimitedError);
    expect((a as RateLimitedError).retryAfterMs).toBe(2000);
    const b = map(413, nova('overLimit', 'This request was rate-limited.', 413, { retryAfter: '5' }));
    expect((b as RateLimitedError).retryAfterMs).toBe(5000);
    expect(map(413, 'Request Entity Too Large')).toBeInstanceOf(BadRequestError);
  });

  it('409, 5xx, 400, 401, non-quota 403', () => {
    expect(map(409, nova('conflictingRequest', 'Cannot delete while building', 409))).toBeInstanceOf(ConflictError);
    expect(map(500, nova('computeFault', 'Unexpected API Error.', 500))).toBeInstanceOf(CloudServerError);
    expect(map(503, '<html><body><h1>503 Service Unavailable</h1></body></html>')).toBeInstanceOf(CloudServerError);
    expect(map(400, nova('badRequest', 'Invalid flavorRef provided.', 400))).toBeInstanceOf(BadRequestError);
    const k = httpError('POST', '/identity/v3/auth/tokens', 401, {}, JSON.stringify({ error: { code: 401, message: 'The request you have made requires authentication.', title: 'Unauthorized' } }), NOW);
    expect(k).toBeInstanceOf(AuthError);
    expect(k.message).toContain('401 The request you have made requires authentication.');
    expect(map(403, nova('forbidden', "Policy doesn't allow os_compute_api:servers:create to be performed.", 403))).toBeInstanceOf(AuthError);
  });

  it('reads plain-text and HTML bodies (Glance) into one line', () => {
    expect(cloudMessage('404 Not Found\n\nThe resource could not be found.\n\n   ').message).toBe('404 Not Found The resource could not be found.');
    expect(cloudMessage('<html><h1>Bad</h1> gateway</html>').message).toBe('Bad gateway');
    const glanceJson = JSON.stringify({ message: 'You are not permitted to delete this image.<br /><br />\n\n\n', code: '403 Forbidden', title: 'Forbidden' });
    expect(cloudMessage(glanceJson).message).toBe('You are not permitted to delete this image.');
  });

  it('parses Retry-After strictly', () => {
    expect(retryAfterMs('120', NOW)).toBe(120_000);
    expect(retryAfterMs('garbage', NOW)).toBeNull();
    expect(retryAfterMs(new Date(NOW - 5000).toUTCString(), NOW)).toBe(0);
    expect(retryAfterMs(undefined, NOW)).toBeNull();
  });
});

describe('Keystone helpers', () => {
  const catalog = [
    { type: 'identity', endpoints: [{ interface: 'public', region_id: 'RegionOne', url: 'http://k/identity' }] },
    {
      type: 'compute',
      endpoints: [
        { interface: 'internal', region_id: 'RegionOne', url: 'http://internal/compute/v2.1' },
        { interface: 'public', region_id: 'RegionTwo', url: 'http://two/compute/v2.1/' },
        { interface: 'public', region_id: 'RegionOne', url: 'http://one/compute/v2.1' },
      ],
    },
  ];

  it('picks by service type, interface and region', () => {
    expect(findEndpoint(catalog, 'compute', 'public', 'RegionOne')).toBe('http://one/compute/v2.1');
    expect(findEndpoint(catalog, 'compute', 'public', 'RegionTwo')).toBe('http://two/compute/v2.1');
    expect(findEndpoint(catalog, 'compute', 'internal')).toBe('http://internal/compute/v2.1');
    expect(findEndpoint(catalog, 'image', 'public')).toBeUndefined();
    expect(findEndpoint(catalog, 'compute', 'admin')).toBeUndefined();
  });

  it('builds the v3 password body scoped to a project by name', () => {
    expect(
      passwordAuthBody({ authUrl: '', username: 'u', password: 'p', userDomainName: 'UD', projectName: 'proj', projectDomainName: 'PD' }),
    ).toEqual({
      auth: {
        identity: { methods: ['password'], password: { user: { name: 'u', domain: { name: 'UD' }, password: 'p' } } },
        scope: { project: { name: 'proj', domain: { name: 'PD' } } },
      },
    });
    expect(identityV3Url('http://k:5000/')).toBe('http://k:5000/v3');
    expect(identityV3Url('http://k/identity/v3/')).toBe('http://k/identity/v3');
  });
});

describe('driver registry', () => {
  it('throws a ConfigError naming the provider for an unregistered driver', () => {
    // A driver name the schema would refuse, as a config from a newer version might carry.
    const cfg = { name: 'az', driver: 'azure' } as unknown as ProviderConfig;
    expect(() => createDriver(cfg, {})).toThrow(ConfigError);
    expect(() => createDriver(cfg, {})).toThrow(/providers\.az\.driver: driver "azure" is not available \(registered: openstack, ec2\)/);
  });

  it('refuses an openstack provider without auth', () => {
    const cfg = { name: 'os', driver: 'openstack', networks: [] } as unknown as ProviderConfig;
    expect(() => createDriver(cfg, {})).toThrow(/providers\.os\.auth/);
  });
});

describe('uniqueById', () => {
  it('keeps one entry per id (the later one, as real Nova may list a building server on two pages)', () => {
    const items = [
      { id: 'a', status: 'BUILD' },
      { id: 'b', status: 'ACTIVE' },
      { id: 'a', status: 'ACTIVE' },
    ];
    expect(uniqueById(items)).toEqual([
      { id: 'b', status: 'ACTIVE' },
      { id: 'a', status: 'ACTIVE' },
    ]);
  });
});

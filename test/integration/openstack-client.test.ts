// The OpenStack client against a tiny in-test HTTP cloud: token sharing, expiry and 401
// re-auth, pagination, request shapes and error mapping over real sockets.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { configSchema, type ProviderConfig } from '../../src/config.js';
import { AuthError, CloudNetworkError, NotFoundError, QuotaExceededError, RateLimitedError } from '../../src/errors.js';
import { createOpenStackDriver } from '../../providers/openstack/driver.js';
import type { ProviderDriver } from '../../providers/provider.js';

const START = Date.parse('2030-01-01T00:00:00Z');
const TTL_MS = 3_600_000;

interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** A small cloud: just enough Keystone, Nova, Glance and Neutron to exercise the client. */
class FakeCloud {
  server!: Server;
  base = '';
  auths = 0;
  authBodies: unknown[] = [];
  tokens = new Set<string>();
  requests: { method: string; path: string; headers: IncomingMessage['headers']; body: unknown }[] = [];
  /** Answers for the next non-auth calls, in order. */
  queued: Reply[] = [];
  /** When set, auth answers wait for this promise (to test concurrent callers). */
  authGate: Promise<void> | null = null;
  /** Every service call answers 401 (token revoked at once). */
  alwaysUnauthorized = false;
  hang = false;
  servers = Array.from({ length: 5 }, (_, i) => ({
    id: `s${i}`,
    name: `node-${i}`,
    status: 'ACTIVE',
    created: '2030-01-01T00:00:00Z',
    addresses: { private: [{ addr: `10.0.0.${i}`, version: 4 }] },
    metadata: { owner: 'nodepool' },
  }));
  images = Array.from({ length: 3 }, (_, i) => ({ id: `i${i}`, name: `img-${i}`, status: 'active', created_at: '2030-01-01T00:00:00Z' }));

  constructor(private readonly clock: ManualClock) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private closed: Promise<void> | null = null;

  close(): Promise<void> {
    this.closed ??= new Promise((r) => {
      this.server.close(() => r());
      this.server.closeAllConnections();
    });
    return this.closed;
  }

  calls(method: string, prefix: string): number {
    return this.requests.filter((r) => r.method === method && r.path.startsWith(prefix)).length;
  }

  private send(res: ServerResponse, reply: Reply): void {
    const text = reply.body === undefined ? '' : typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
    res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
    res.end(text);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const url = new URL(req.url ?? '/', this.base);
    const body = raw ? JSON.parse(raw) : undefined;
    if (this.hang) return; // never answer
    if (req.method === 'POST' && url.pathname === '/identity/v3/auth/tokens') return this.auth(res, body);
    this.requests.push({ method: req.method ?? '', path: url.pathname + url.search, headers: req.headers, body });
    const token = req.headers['x-auth-token'];
    if (this.alwaysUnauthorized || typeof token !== 'string' || !this.tokens.has(token)) {
      return this.send(res, { status: 401, body: { error: { code: 401, message: 'The request you have made requires authentication.', title: 'Unauthorized' } } });
    }
    const queued = this.queued.shift();
    if (queued) return this.send(res, queued);
    const p = url.pathname;
    if (req.method === 'GET' && p === '/compute/v2.1/servers/detail') return this.page(res, url, this.servers, 'servers', (q) => `http://proxy.example:8774/v2.1/servers/detail?${q}`);
    if (req.method === 'GET' && p === '/compute/v2.1/flavors/detail') {
      return this.send(res, { status: 200, body: { flavors: [{ id: '1', name: 'm1.small', ram: 2048, vcpus: 1 }, { id: '2', name: 'm1.tiny', ram: 512, vcpus: 1 }] } });
    }
    if (req.method === 'POST' && p === '/compute/v2.1/servers') return this.send(res, { status: 202, body: { server: { id: 'new-1', links: [] } } });
    if (req.method === 'DELETE' && p.startsWith('/compute/v2.1/servers/')) return this.send(res, { status: 204 });
    if (req.method === 'GET' && p === '/compute/v2.1/limits') {
      return this.send(res, { status: 200, body: { limits: { absolute: { maxTotalInstances: 10, maxTotalCores: -1, maxTotalRAMSize: 51200, totalInstancesUsed: 5, totalCoresUsed: 5, totalRAMUsed: 2560 }, rate: [] } } });
    }
    if (req.method === 'GET' && p === '/image/v2/images') return this.page(res, url, this.images, 'images', (q) => `/v2/images?${q}`);
    if (req.method === 'GET' && p === '/networking/v2.0/networks') {
      const name = url.searchParams.get('name');
      return this.send(res, { status: 200, body: { networks: name === 'private' ? [{ id: 'net-uuid-1', name: 'private' }] : [] } });
    }
    this.send(res, { status: 404, body: { itemNotFound: { code: 404, message: `no route ${req.method} ${p}` } } });
  }

  private page<T extends { id: string }>(res: ServerResponse, url: URL, all: T[], key: string, link: (q: string) => string): void {
    const limit = Number(url.searchParams.get('limit') ?? 1000);
    const marker = url.searchParams.get('marker');
    const from = marker ? all.findIndex((s) => s.id === marker) + 1 : 0;
    const items = all.slice(from, from + limit);
    const body: Record<string, unknown> = { [key]: items };
    if (items.length === limit && from + limit < all.length) {
      const q = `limit=${limit}&marker=${items[items.length - 1].id}`;
      if (key === 'images') body.next = link(q);
      else body[`${key}_links`] = [{ rel: 'next', href: link(q) }];
    }
    this.send(res, { status: 200, body });
  }

  private async auth(res: ServerResponse, body: unknown): Promise<void> {
    this.auths++;
    this.authBodies.push(body);
    if (this.authGate) await this.authGate;
    const pw = (body as { auth: { identity: { password: { user: { password: string } } } } }).auth.identity.password.user.password;
    if (pw !== 'secret') {
      return this.send(res, { status: 401, body: { error: { code: 401, message: 'The request you have made requires authentication.', title: 'Unauthorized' } } });
    }
    const id = `tok-${this.auths}`;
    this.tokens.add(id);
    const ep = (type: string, path: string) => ({
      type,
      endpoints: [
        { interface: 'internal', region_id: 'RegionOne', url: `http://127.0.0.1:9/${path}` },
        { interface: 'public', region_id: 'RegionOne', url: `${this.base}/${path}` },
      ],
    });
    this.send(res, {
      status: 201,
      headers: { 'x-subject-token': id },
      body: {
        token: {
          expires_at: new Date(this.clock.now() + TTL_MS).toISOString(),
          catalog: [ep('identity', 'identity'), ep('compute', 'compute/v2.1'), ep('image', 'image'), ep('network', 'networking')],
        },
      },
    });
  }
}

/** A provider section as the config schema makes it (defaults filled in). */
function providerConfig(authUrl: string, over: Record<string, unknown> = {}, password = 'secret'): ProviderConfig {
  return configSchema.parse({
    labels: [{ name: 'small', image: 'ubuntu', providers: [{ name: 'fake' }] }],
    providers: [
      {
        name: 'fake',
        driver: 'openstack',
        auth: { 'auth-url': authUrl, username: 'admin', password, 'project-name': 'demo' },
        'region-name': 'RegionOne',
        'max-servers': 10,
        images: [{ name: 'ubuntu', 'base-image': 'ubuntu-jammy' }],
        ...over,
      },
    ],
  }).providers[0];
}

describe('OpenStack client against an in-test cloud', () => {
  let clock: ManualClock;
  let cloud: FakeCloud;
  let driver: ProviderDriver;

  beforeEach(async () => {
    clock = new ManualClock(START);
    cloud = new FakeCloud(clock);
    await cloud.start();
    driver = createOpenStackDriver(providerConfig(`${cloud.base}/identity/v3`), { clock, pageSize: 2 });
  });

  afterEach(async () => {
    await driver.close();
    await cloud.close();
  });

  it('sends the v3 password body and uses the token from X-Subject-Token', async () => {
    await driver.listFlavors();
    expect(cloud.authBodies[0]).toEqual({
      auth: {
        identity: { methods: ['password'], password: { user: { name: 'admin', domain: { name: 'Default' }, password: 'secret' } } },
        scope: { project: { name: 'demo', domain: { name: 'Default' } } },
      },
    });
    expect(cloud.requests[0].headers['x-auth-token']).toBe('tok-1');
    expect(cloud.requests[0].headers['openstack-api-version']).toBe('compute 2.79');
  });

  it('concurrent callers share one auth request', async () => {
    let open!: () => void;
    cloud.authGate = new Promise((r) => (open = r));
    const calls = Promise.all([driver.listFlavors(), driver.getQuota(), driver.listServers(), driver.listImages()]);
    // Wait (bounded) until the one auth request has arrived, then let it answer.
    for (let i = 0; i < 200 && cloud.auths === 0; i++) await new Promise((r) => setTimeout(r, 5));
    open();
    await calls;
    expect(cloud.auths).toBe(1);
  });

  it('re-authenticates 60 s before expires_at by the injected clock', async () => {
    await driver.listFlavors();
    await clock.advance(TTL_MS - 61_000);
    await driver.listFlavors();
    expect(cloud.auths).toBe(1);
    await clock.advance(2_000);
    await driver.listFlavors();
    expect(cloud.auths).toBe(2);
    expect(cloud.requests.at(-1)?.headers['x-auth-token']).toBe('tok-2');
  });

  it('re-authenticates once on a 401 from a service and retries the call', async () => {
    await driver.listFlavors();
    cloud.tokens.clear(); // revoked early
    const flavors = await driver.listFlavors();
    expect(flavors.map((f) => f.name)).toEqual(['m1.small', 'm1.tiny']);
    expect(cloud.auths).toBe(2);
  });

  it('gives up with AuthError after one re-auth when the service keeps answering 401', async () => {
    cloud.alwaysUnauthorized = true;
    await expect(driver.listFlavors()).rejects.toBeInstanceOf(AuthError);
    expect(cloud.auths).toBe(2);
    expect(cloud.calls('GET', '/compute/v2.1/flavors/detail')).toBe(2);
  });

  it('wrong credentials -> AuthError naming the call', async () => {
    const bad = createOpenStackDriver(providerConfig(`${cloud.base}/identity/v3`, {}, 'wrong'), { clock });
    try {
      const err = await bad.listServers().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AuthError);
      expect((err as Error).message).toMatch(/^POST \/identity\/v3\/auth\/tokens: 401 /);
    } finally {
      await bad.close();
    }
  });

  it('follows servers_links on its own endpoint through every page', async () => {
    const servers = await driver.listServers();
    expect(servers.map((s) => s.id)).toEqual(['s0', 's1', 's2', 's3', 's4']);
    expect(servers[2]).toMatchObject({ name: 'node-2', status: 'active', ip: '10.0.0.2', metadata: { owner: 'nodepool' } });
    expect(cloud.requests.map((r) => r.path)).toEqual([
      '/compute/v2.1/servers/detail?limit=2',
      '/compute/v2.1/servers/detail?limit=2&marker=s1',
      '/compute/v2.1/servers/detail?limit=2&marker=s3',
    ]);
  });

  it('follows Glance next links', async () => {
    const images = await driver.listImages();
    expect(images.map((i) => i.id)).toEqual(['i0', 'i1', 'i2']);
    expect(cloud.calls('GET', '/image/v2/images')).toBe(2);
  });

  it('creates with networks "auto" when none are configured', async () => {
    const s = await driver.createServer({ name: 'n1', imageId: 'img', flavorId: '1', metadata: { a: 'b' }, az: 'nova', keyName: 'k' });
    expect(s).toMatchObject({ id: 'new-1', name: 'n1', status: 'building', metadata: { a: 'b' }, created: START });
    const post = cloud.requests.find((r) => r.method === 'POST');
    expect(post?.body).toEqual({
      server: { name: 'n1', imageRef: 'img', flavorRef: '1', metadata: { a: 'b' }, networks: 'auto', availability_zone: 'nova', key_name: 'k' },
    });
  });

  it('resolves network names to ids once and sends [{uuid}]', async () => {
    const d = createOpenStackDriver(providerConfig(`${cloud.base}/identity/v3`, { networks: [{ name: 'private' }, { id: 'net-2' }], 'config-drive': true }), { clock });
    try {
      for (const name of ['a', 'b']) await d.createServer({ name, imageId: 'img', flavorId: '1', metadata: {} });
      const posts = cloud.requests.filter((r) => r.method === 'POST');
      expect((posts[1].body as { server: Record<string, unknown> }).server).toMatchObject({
        networks: [{ uuid: 'net-uuid-1' }, { uuid: 'net-2' }],
        config_drive: true,
      });
      expect(cloud.calls('GET', '/networking/v2.0/networks')).toBe(1);
    } finally {
      await d.close();
    }
  });

  it('reads limits, -1 as unlimited', async () => {
    expect(await driver.getQuota()).toEqual({ maxInstances: 10, maxCores: null, maxRamMb: 51200, usedInstances: 5, usedCores: 5, usedRamMb: 2560 });
  });

  it('maps error answers over the wire', async () => {
    cloud.queued.push(
      { status: 404, body: { itemNotFound: { code: 404, message: 'Instance zz could not be found.' } } },
      { status: 429, body: 'slow down', headers: { 'retry-after': '4' } },
      { status: 403, body: { forbidden: { code: 403, message: 'Quota exceeded for instances: Requested 1, but already used 10 of 10 instances' } } },
    );
    const nf = await driver.deleteServer('zz').catch((e: unknown) => e);
    expect(nf).toBeInstanceOf(NotFoundError);
    expect((nf as Error).message).toBe('DELETE /compute/v2.1/servers/zz: 404 Instance zz could not be found.');
    const rl = await driver.listFlavors().catch((e: unknown) => e);
    expect(rl).toBeInstanceOf(RateLimitedError);
    expect((rl as RateLimitedError).retryAfterMs).toBe(4000);
    await expect(driver.createServer({ name: 'q', imageId: 'i', flavorId: '1', metadata: {} })).rejects.toBeInstanceOf(QuotaExceededError);
  });

  it('times out a cloud that never answers with CloudNetworkError', async () => {
    const d = createOpenStackDriver(providerConfig(`${cloud.base}/identity/v3`), { clock, timeoutMs: 200 });
    cloud.hang = true;
    try {
      const err = await d.listServers().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CloudNetworkError);
      expect((err as Error).message).toMatch(/POST \/identity\/v3\/auth\/tokens: timed out after 200 ms/);
    } finally {
      await d.close();
    }
  });

  it('a refused connection is a CloudNetworkError; close() is idempotent', async () => {
    await cloud.close();
    const err = await driver.listServers().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CloudNetworkError);
    expect((err as Error).message).toMatch(/ECONNREFUSED/);
    await Promise.all([driver.close(), driver.close()]);
  });
});

import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import {
  CloudServerError,
  LaunchError,
  NotFoundError,
  QuotaExceededError,
  RateLimitedError,
  TimeoutError,
  CloudNetworkError,
} from '../../src/errors.js';
import { ManagedProvider, type ManagedProviderOptions } from '../../providers/managed-provider.js';
import type { CloudImage, CloudServer, CreateServerRequest, Flavor, ProviderDriver, Quota, ServerStatus } from '../../providers/provider.js';

const flush = () => new Promise((r) => setImmediate(r));

type Op = 'createServer' | 'listServers' | 'getServer' | 'deleteServer' | 'listFlavors' | 'getQuota' | 'listImages' | 'createImage' | 'deleteImage';

/**
 * An in-memory cloud for unit tests of the provider layer: counts calls per operation and
 * the clock time of each, and fails the next calls of an operation from a script.
 */
class FakeDriver implements ProviderDriver {
  readonly name = 'fake';
  servers = new Map<string, CloudServer>();
  images: CloudImage[] = [];
  flavors: Flavor[] = [
    { id: 'f1', name: 'm1.small', ramMb: 2048, vcpus: 1 },
    { id: 'f2', name: 'm1.medium', ramMb: 4096, vcpus: 2 },
    { id: 'f3', name: 'perf.medium', ramMb: 4096, vcpus: 4 },
  ];
  calls: Record<string, number[]> = {};
  /** Errors thrown by the next calls of an op; for createServer, `afterCreate` throws once the server exists. */
  failures: Partial<Record<Op, { err: Error; afterCreate?: boolean }[]>> = {};
  closed = 0;
  private seq = 0;
  constructor(private readonly clock: ManualClock) {}

  count(op: Op): number {
    return this.calls[op]?.length ?? 0;
  }
  private enter(op: Op): { err: Error; afterCreate?: boolean } | undefined {
    (this.calls[op] ??= []).push(this.clock.now());
    return this.failures[op]?.shift();
  }
  async createServer(req: CreateServerRequest): Promise<CloudServer> {
    const f = this.enter('createServer');
    if (f && !f.afterCreate) throw f.err;
    const id = `srv-${++this.seq}`;
    const s: CloudServer = { id, name: req.name, status: 'building', rawStatus: 'BUILD', ip: null, az: null, metadata: req.metadata, fault: null, created: this.clock.now() };
    this.servers.set(id, s);
    if (f) throw f.err;
    return { ...s };
  }
  async listServers(): Promise<CloudServer[]> {
    const f = this.enter('listServers');
    if (f) throw f.err;
    return [...this.servers.values()].map((s) => ({ ...s }));
  }
  async getServer(id: string): Promise<CloudServer> {
    const f = this.enter('getServer');
    if (f) throw f.err;
    const s = this.servers.get(id);
    if (!s) throw new NotFoundError(`server ${id}`, 404);
    return { ...s };
  }
  async deleteServer(id: string): Promise<void> {
    const f = this.enter('deleteServer');
    if (f) throw f.err;
    if (!this.servers.delete(id)) throw new NotFoundError(`server ${id}`, 404);
  }
  async listFlavors(): Promise<Flavor[]> {
    const f = this.enter('listFlavors');
    if (f) throw f.err;
    return this.flavors.map((x) => ({ ...x }));
  }
  async getQuota(): Promise<Quota> {
    const f = this.enter('getQuota');
    if (f) throw f.err;
    return { maxInstances: 10, maxCores: null, maxRamMb: null, usedInstances: this.servers.size, usedCores: 0, usedRamMb: 0 };
  }
  async listImages(): Promise<CloudImage[]> {
    const f = this.enter('listImages');
    if (f) throw f.err;
    return this.images.map((x) => ({ ...x }));
  }
  /** With `afterCreate`, the failure is thrown once the image exists (a lost answer). */
  async createImage(serverId: string, name: string, metadata: Record<string, string>): Promise<string> {
    const f = this.enter('createImage');
    if (f && !f.afterCreate) throw f.err;
    if (!this.servers.has(serverId)) throw new NotFoundError(`server ${serverId}`, 404);
    const id = `img-${++this.seq}`;
    this.images.push({ id, name, status: 'building', metadata: { ...metadata }, created: this.clock.now() });
    if (f) throw f.err;
    return id;
  }
  async deleteImage(id: string): Promise<void> {
    const f = this.enter('deleteImage');
    if (f) throw f.err;
    const before = this.images.length;
    this.images = this.images.filter((i) => i.id !== id);
    if (this.images.length === before) throw new NotFoundError(`image ${id}`, 404);
  }
  async close(): Promise<void> {
    this.closed++;
  }
  setStatus(id: string, status: ServerStatus, rawStatus: string, fault: string | null = null) {
    const s = this.servers.get(id)!;
    this.servers.set(id, { ...s, status, rawStatus, fault });
  }
}

function setup(opts: Partial<ManagedProviderOptions> = {}) {
  const clock = new ManualClock(1_000_000);
  const driver = new FakeDriver(clock);
  const apiCalls: [string, string][] = [];
  const provider = new ManagedProvider(driver, {
    clock,
    rateSeconds: 0.1,
    burst: 10,
    pollIntervalMs: 1000,
    retry: { maxRetries: 3, minDelayMs: 100, maxDelayMs: 1000, factor: 2, jitter: 'none' },
    random: () => 0,
    onApiCall: (op, outcome) => apiCalls.push([op, outcome]),
    ...opts,
  });
  /** Advances the clock in steps until `p` settles; returns its value or throws its error. */
  async function drive<T>(p: Promise<T>, stepMs = 100, maxSteps = 1000): Promise<T> {
    let done = false;
    const watched = p.finally(() => (done = true));
    watched.catch(() => {});
    await flush();
    for (let i = 0; i < maxSteps && !done; i++) await clock.advance(stepMs);
    return watched;
  }
  return { clock, driver, provider, apiCalls, drive };
}

const req = (name: string): CreateServerRequest => ({ name, imageId: 'img', flavorId: 'f1', metadata: { 'nodepool-node-id': '1' } });

describe('ManagedProvider: rate limiting', () => {
  it('paces calls through one bucket: N calls take (N - burst) * interval', async () => {
    const { clock, driver, provider, drive } = setup({ rateSeconds: 2, burst: 3 });
    await drive(Promise.all(Array.from({ length: 7 }, () => provider.getQuota())));
    const times = driver.calls.getQuota.map((t) => t - 1_000_000);
    expect(times).toEqual([0, 0, 0, 2000, 4000, 6000, 8000]);
    expect(clock.now() - 1_000_000).toBeGreaterThanOrEqual((7 - 3) * 2000);
    await provider.close();
  });

  it('a 429 with Retry-After pauses every call on the provider', async () => {
    const { driver, provider, drive } = setup({ rateSeconds: 0.1, burst: 5, retry: { maxRetries: 3, minDelayMs: 100, maxDelayMs: 30_000, factor: 2, jitter: 'none' } });
    driver.failures.getQuota = [{ err: new RateLimitedError('429', 429, 5000) }];
    const quota = provider.getQuota();
    await flush();
    const other = provider.listFlavors();
    await drive(Promise.all([quota, other]));
    const [first, second] = driver.calls.getQuota.map((t) => t - 1_000_000);
    expect(first).toBe(0);
    expect(second).toBeGreaterThanOrEqual(5000);
    expect(driver.calls.listFlavors[0] - 1_000_000).toBeGreaterThanOrEqual(5000);
    expect(provider.stats().errors).toEqual({ 'rate-limited': 1 });
    await provider.close();
  });
});

describe('ManagedProvider: Retry-After is bounded', () => {
  it('a Retry-After of an hour pauses calls (deletes included) only for the policy maximum', async () => {
    const { driver, provider, drive } = setup({ rateSeconds: 0.1, burst: 5 });
    driver.failures.getQuota = [{ err: new RateLimitedError('429', 429, 3_600_000) }];
    const quota = provider.getQuota();
    await flush();
    const del = provider.deleteServer('srv-none');
    await drive(Promise.all([quota, del]), 100, 200);
    const [first, second] = driver.calls.getQuota.map((t) => t - 1_000_000);
    expect(first).toBe(0);
    // maxDelayMs is 1000 in setup(): the retry and the delete wait that long, not an hour.
    expect(second).toBeGreaterThanOrEqual(1000);
    expect(second).toBeLessThanOrEqual(1100);
    expect(driver.calls.deleteServer[0] - 1_000_000).toBeLessThanOrEqual(1100);
    await provider.close();
  });
});

describe('ManagedProvider: createImage', () => {
  it('after a lost answer it finds the snapshot the failed call made (same name and metadata) instead of making a second', async () => {
    const { driver, provider, drive } = setup();
    const server = await drive(provider.createServer(req('np-img')));
    driver.failures.createImage = [{ err: new CloudServerError('502', 502), afterCreate: true }];
    const id = await drive(provider.createImage(server.id, 'template-ubuntu-1', { nodepool_image_build: '7' }));
    expect(driver.images.map((i) => i.id)).toEqual([id]);
    expect(driver.count('createImage')).toBe(1);
  });

  it('retries when the failed call made nothing, and never adopts a same-named image with other metadata', async () => {
    const { driver, provider, drive } = setup();
    const server = await drive(provider.createServer(req('np-img2')));
    driver.images.push({ id: 'img-other', name: 'template-ubuntu-1', status: 'active', metadata: { nodepool_image_build: '6' }, created: 0 });
    driver.failures.createImage = [{ err: new CloudNetworkError('ECONNRESET') }];
    const id = await drive(provider.createImage(server.id, 'template-ubuntu-1', { nodepool_image_build: '7' }));
    expect(id).not.toBe('img-other');
    expect(driver.count('createImage')).toBe(2);
  });
});

describe('ManagedProvider: createServer', () => {
  it('after a 503 it finds the server the failed call created instead of creating a duplicate', async () => {
    const { driver, provider, drive, apiCalls } = setup();
    driver.failures.createServer = [{ err: new CloudServerError('503 Service Unavailable', 503), afterCreate: true }];
    const s = await drive(provider.createServer(req('np-0001')));
    expect(s.name).toBe('np-0001');
    expect(driver.count('createServer')).toBe(1);
    expect(driver.count('listServers')).toBe(1);
    expect(driver.servers.size).toBe(1);
    expect(apiCalls).toEqual([
      ['createServer', 'server-error'],
      ['listServers', 'ok'],
    ]);
    await provider.close();
  });

  it('retries the create when the failed call created nothing', async () => {
    const { driver, provider, drive } = setup();
    driver.failures.createServer = [{ err: new CloudNetworkError('ECONNRESET') }, { err: new CloudServerError('502', 502) }];
    const s = await drive(provider.createServer(req('np-0002')));
    expect(s.name).toBe('np-0002');
    expect(driver.count('createServer')).toBe(3);
    expect(driver.count('listServers')).toBe(2);
    expect([...driver.servers.values()].map((x) => x.name)).toEqual(['np-0002']);
    await provider.close();
  });

  it('never creates when the dedupe list fails: it retries the list first', async () => {
    const { driver, provider, drive } = setup();
    driver.failures.createServer = [{ err: new CloudServerError('503', 503), afterCreate: true }];
    driver.failures.listServers = [{ err: new CloudServerError('503', 503) }];
    await drive(provider.createServer(req('np-0003')));
    expect(driver.count('createServer')).toBe(1);
    expect(driver.servers.size).toBe(1);
    await provider.close();
  });

  it('after a lost answer it never adopts a same-named server of another deployment: it creates its own', async () => {
    const { driver, provider, drive } = setup();
    const ours = { nodepool_owner: 'nodepool-ts', nodepool_deployment: 'dep-a', nodepool_node_id: '1', nodepool_provider: 'fake' };
    // Another installation on the same project: same hostname scheme, node ids from 1, same provider name.
    const theirs: CloudServer = { id: 'theirs', name: 'np-0005', status: 'active', rawStatus: 'ACTIVE', ip: null, az: null, fault: null, created: 0, metadata: { ...ours, nodepool_deployment: 'dep-b' } };
    driver.servers.set(theirs.id, theirs);
    driver.failures.createServer = [{ err: new CloudServerError('503', 503) }];
    const s = await drive(provider.createServer({ ...req('np-0005'), metadata: ours }));
    expect(s.id).not.toBe('theirs');
    expect(s.metadata).toEqual(ours);
    expect(driver.count('createServer')).toBe(2);
    expect([...driver.servers.keys()].sort()).toEqual(['srv-1', 'theirs']);
    await provider.close();
  });

  it('a quota error propagates at once, without a retry or a list', async () => {
    const { driver, provider } = setup();
    driver.failures.createServer = [{ err: new QuotaExceededError('Quota exceeded for instances', 403) }];
    await expect(provider.createServer(req('np-0004'))).rejects.toBeInstanceOf(QuotaExceededError);
    expect(driver.count('createServer')).toBe(1);
    expect(driver.count('listServers')).toBe(0);
    await provider.close();
  });
});

describe('ManagedProvider: getServer', () => {
  it('answers the server, null for a 404, and retries a 5xx', async () => {
    const { driver, provider, drive } = setup();
    const created = await drive(provider.createServer(req('np-0010')));
    driver.failures.getServer = [{ err: new CloudServerError('503', 503) }];
    expect((await drive(provider.getServer(created.id)))?.id).toBe(created.id);
    expect(driver.count('getServer')).toBe(2);
    expect(await drive(provider.getServer('srv-none'))).toBeNull();
    expect(driver.count('getServer')).toBe(3);
    await provider.close();
  });

  it('answers null for a server the cloud shows as DELETED', async () => {
    const { driver, provider, drive } = setup();
    const created = await drive(provider.createServer(req('np-0011')));
    driver.setStatus(created.id, 'deleting', 'DELETED');
    expect(await drive(provider.getServer(created.id))).toBeNull();
    await provider.close();
  });

  it('goes through the rate limit like every call', async () => {
    const { driver, provider, drive } = setup({ rateSeconds: 2, burst: 1 });
    await drive(Promise.all([provider.getQuota(), provider.getServer('x')]));
    expect(driver.calls.getServer[0] - 1_000_000).toBe(2000);
    await provider.close();
  });
});

describe('ManagedProvider: deletes', () => {
  it('deleteServer retries a 5xx and treats NotFound as gone', async () => {
    const { driver, provider, drive } = setup();
    const s = await provider.createServer(req('np-0005'));
    driver.failures.deleteServer = [{ err: new CloudServerError('500', 500) }];
    await drive(provider.deleteServer(s.id));
    expect(driver.count('deleteServer')).toBe(2);
    expect(driver.servers.size).toBe(0);
    await expect(provider.deleteServer(s.id)).resolves.toBeUndefined();
    await expect(provider.deleteServer('never-existed')).resolves.toBeUndefined();
    await provider.close();
  });

  it('deleteImage treats NotFound as gone', async () => {
    const { driver, provider } = setup();
    driver.images = [{ id: 'i1', name: 'base', status: 'active', metadata: {}, created: 1 }];
    await provider.deleteImage('i1');
    await provider.deleteImage('i1');
    expect(driver.images).toEqual([]);
    expect(driver.count('deleteImage')).toBe(2);
    await provider.close();
  });
});

describe('ManagedProvider: waiting on the shared poll', () => {
  it('one list call per tick serves every waiter', async () => {
    const { clock, driver, provider } = setup();
    const servers = await Promise.all(Array.from({ length: 8 }, (_, i) => provider.createServer(req(`np-1${i}`))));
    const waits = servers.map((s) => provider.waitForActive(s.id, 60_000));
    await clock.advance(1000);
    expect(driver.count('listServers')).toBe(1);
    for (const s of servers) driver.setStatus(s.id, 'active', 'ACTIVE');
    await clock.advance(1000);
    const active = await Promise.all(waits);
    expect(active.map((s) => s.status)).toEqual(Array(8).fill('active'));
    expect(driver.count('listServers')).toBe(2);
    expect(driver.count('getServer')).toBe(0);
    expect(provider.snapshot()!.servers).toHaveLength(8);
    await provider.close();
  });

  it('an ERROR status fails with LaunchError carrying the fault', async () => {
    const { clock, driver, provider } = setup();
    const s = await provider.createServer(req('np-0006'));
    driver.setStatus(s.id, 'error', 'ERROR', 'No valid host was found.');
    const wait = provider.waitForActive(s.id, 60_000).catch((e: unknown) => e);
    await clock.advance(1000);
    const err = await wait;
    expect(err).toBeInstanceOf(LaunchError);
    expect((err as Error).message).toContain('No valid host was found.');
    await provider.close();
  });

  it('times out with TimeoutError when the server stays in BUILD', async () => {
    const { clock, provider } = setup();
    const s = await provider.createServer(req('np-0007'));
    const wait = provider.waitForActive(s.id, 5000).catch((e: unknown) => e);
    for (let i = 0; i < 4; i++) await clock.advance(1000);
    await clock.advance(999);
    await flush();
    let settled = false;
    void wait.then(() => (settled = true));
    await flush();
    expect(settled).toBe(false);
    await clock.advance(1);
    expect(await wait).toBeInstanceOf(TimeoutError);
    await provider.close();
  });

  it('a server missing from two consecutive lists fails with LaunchError', async () => {
    const { clock, driver, provider } = setup();
    const s = await provider.createServer(req('np-0008'));
    const wait = provider.waitForActive(s.id, 60_000).catch((e: unknown) => e);
    driver.servers.delete(s.id);
    await clock.advance(1000);
    await flush();
    let settled = false;
    void wait.then(() => (settled = true));
    await flush();
    expect(settled).toBe(false);
    await clock.advance(1000);
    const err = await wait;
    expect(err).toBeInstanceOf(LaunchError);
    expect((err as Error).message).toContain('vanished');
    expect(driver.count('listServers')).toBe(2);
    await provider.close();
  });

  it('waitForGone resolves when the server leaves the list or shows DELETED', async () => {
    const { clock, driver, provider } = setup();
    const a = await provider.createServer(req('np-0009'));
    const b = await provider.createServer(req('np-0010'));
    driver.setStatus(b.id, 'deleting', 'DELETED');
    let aGone = false;
    const waitA = provider.waitForGone(a.id, 60_000).then(() => (aGone = true));
    const waitB = provider.waitForGone(b.id, 60_000);
    await clock.advance(1000);
    await waitB;
    expect(aGone).toBe(false);
    await provider.deleteServer(a.id);
    provider.pollNow();
    await flush();
    await waitA;
    expect(clock.now()).toBe(1_001_000);
    await provider.close();
  });

  it('listServers refreshes the snapshot cleanup reads', async () => {
    const { clock, provider } = setup();
    expect(provider.snapshot()).toBeNull();
    await provider.createServer(req('np-0011'));
    const list = await provider.listServers();
    expect(provider.snapshot()).toEqual({ servers: list, at: clock.now() });
    await provider.close();
  });
});

describe('ManagedProvider: flavors and images', () => {
  it('caches flavors for the TTL and picks the smallest that fits', async () => {
    const { clock, driver, provider } = setup();
    expect((await provider.findFlavor(3000)).id).toBe('f2');
    expect((await provider.findFlavor(3000, 'perf')).id).toBe('f3');
    expect((await provider.findFlavor(1024)).id).toBe('f1');
    expect(driver.count('listFlavors')).toBe(1);
    await clock.advance(10 * 60_000);
    await provider.listFlavors();
    expect(driver.count('listFlavors')).toBe(2);
    await expect(provider.findFlavor(64_000)).rejects.toThrow(/no flavor with at least 64000 MB RAM; flavors: m1\.small \(2048 MB\)/);
    await provider.close();
  });

  it('findImage matches id or name, the newest active wins, and misses say why', async () => {
    const { driver, provider } = setup();
    driver.images = [
      { id: 'i1', name: 'ubuntu-jammy', status: 'active', metadata: {}, created: 100 },
      { id: 'i2', name: 'ubuntu-jammy', status: 'active', metadata: {}, created: 300 },
      { id: 'i3', name: 'ubuntu-jammy', status: 'building', metadata: {}, created: 500 },
      { id: 'i4', name: 'fedora', status: 'error', metadata: {}, created: 1 },
    ];
    expect((await provider.findImage('ubuntu-jammy')).id).toBe('i2');
    expect((await provider.findImage('i1')).id).toBe('i1');
    expect(driver.count('listImages')).toBe(1);
    // A miss re-reads the list once: a snapshot promoted since the last read is found.
    driver.images.push({ id: 'i5', name: 'centos', status: 'active', metadata: {}, created: 1 });
    expect((await provider.findImage('centos')).id).toBe('i5');
    expect(driver.count('listImages')).toBe(2);
    await expect(provider.findImage('fedora')).rejects.toThrow(/no active image with id or name "fedora"; matching images are not active: i4 \(error\)/);
    await expect(provider.findImage('nope')).rejects.toBeInstanceOf(NotFoundError);
    await provider.close();
  });
});

describe('ManagedProvider: accounting and close', () => {
  it('counts calls per operation and errors per code, and reports each call', async () => {
    const { driver, provider, drive, apiCalls } = setup();
    driver.failures.getQuota = [{ err: new CloudServerError('500', 500) }];
    await drive(provider.getQuota());
    await provider.listServers();
    expect(provider.stats()).toEqual({ calls: 3, byOp: { getQuota: 2, listServers: 1 }, errors: { 'server-error': 1 } });
    expect(apiCalls).toEqual([
      ['getQuota', 'server-error'],
      ['getQuota', 'ok'],
      ['listServers', 'ok'],
    ]);
    await provider.close();
  });

  it('close() stops the poll, rejects waiters with an AbortError, closes the driver once', async () => {
    const { clock, driver, provider } = setup();
    const s = await provider.createServer(req('np-0012'));
    const wait = provider.waitForActive(s.id, 60_000).catch((e: unknown) => e);
    await Promise.all([provider.close(), provider.close()]);
    expect(await wait).toMatchObject({ name: 'AbortError' });
    expect(driver.closed).toBe(1);
    await clock.advance(10_000);
    expect(driver.count('listServers')).toBe(0);
    await expect(provider.getQuota()).rejects.toMatchObject({ name: 'AbortError' });
  });
});

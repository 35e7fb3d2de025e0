// The EC2 driver against the EC2 emulator over real HTTP with the real SDK: the shared Provider
// contract, then what EC2 adds (ClientToken, tags on volumes, batched terminates, spot, subnets,
// limits and capacity, AMIs with their snapshots).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { CapacityError, CloudServerError, NotFoundError, QuotaExceededError, RateLimitedError } from '../../src/errors.js';
import { META_OWNER, OWNER } from '../../src/model.js';
import { createEc2Driver } from '../../providers/ec2/driver.js';
import { startEc2Emulator, type Ec2Emulator } from '../../providers/ec2/emulator/index.js';
import { ManagedProvider } from '../../providers/managed-provider.js';
import { chooseFlavor, type CloudServer, type ProviderDriver } from '../../providers/provider.js';
import { defineProviderContract } from '../contract/provider-contract.js';
import { ec2ProviderConfig } from '../helpers/ec2-pool.js';

const START = Date.parse('2030-01-01T00:00:00Z');

const OURS = { [META_OWNER]: OWNER };

defineProviderContract('ec2', async () => {
  const clock = new ManualClock(START);
  const emulators: Ec2Emulator[] = [];
  const emu = await startEc2Emulator({ clock, seed: 7, bootTimeMs: 1000, terminateTimeMs: 500, ssh: false });
  emulators.push(emu);
  const pageSize = 5;
  const driver = createEc2Driver(ec2ProviderConfig(emu), { clock, pageSize });
  const image = (await driver.listImages()).find((i) => i.status === 'active');
  if (!image) throw new Error('the emulator offers no active image');
  const flavor = chooseFlavor(await driver.listFlavors(), 2048)!;
  return {
    driver,
    imageId: image.id,
    flavorId: flavor.id,
    pageSize,
    metadata: OURS,
    networksNone: false,
    retryAfter: false,
    idempotentCreate: true,
    snapshotsBecomeActive: true,
    missingServerId: 'i-0000000000000000f',
    setQuota: (instances) => emu.setLimits({ instanceLimit: instances }),
    settle: async () => {
      await clock.advance(250);
    },
    badCredentialsDriver: () => createEc2Driver(ec2ProviderConfig(emu, { 'secret-access-key': 'wrong' }), { clock }),
    async rateLimitedDriver() {
      // Time frozen: the describe bucket of two tokens never refills.
      const frozen = new ManualClock(START);
      const limited = await startEc2Emulator({ clock: frozen, seed: 8, ssh: false, throttle: { requestBuckets: { 'non-mutating': { size: 2, refillPerSecond: 1 } } } });
      emulators.push(limited);
      return createEc2Driver(ec2ProviderConfig(limited), { clock: frozen });
    },
    // EC2's own faults under the contract's names: a repeated NextToken, a token refused, a page that fails.
    breakPagination: (mode) =>
      emu.setPaginationFault(mode === null ? null : ({ 'repeat-marker': 'repeat-token', 'page-404': 'invalid-token', 'page-503': 'page-error', 'repeat-item': 'repeat-item' } as const)[mode]),
    failBoots: (on) => emu.failLaunches(on),
    listCalls: () => emu.calls().DescribeInstances ?? 0,
    async teardown() {
      await Promise.all(emulators.map((e) => e.close()));
    },
  };
});

describe('EC2 driver against the emulator', () => {
  let clock: ManualClock;
  let emu: Ec2Emulator;
  let driver: ProviderDriver;
  let imageId: string;
  const req = (name: string, over: Record<string, unknown> = {}) => ({ name, imageId, flavorId: 't3.small', metadata: { ...OURS, nodepool_node_id: name }, ...over });

  beforeAll(async () => {
    clock = new ManualClock(START);
    emu = await startEc2Emulator({ clock, seed: 21, bootTimeMs: 1000, terminateTimeMs: 500, ssh: false, securityGroups: ['sg-0123456789abcdef0'] });
    driver = createEc2Driver(ec2ProviderConfig(emu), { clock });
    imageId = (await driver.listImages()).find((i) => i.status === 'active')!.id;
  });
  afterAll(async () => {
    await driver?.close();
    await emu?.close();
  });

  it('one RunInstances per create, our tags on the instance and its volume, never CreateTags', async () => {
    emu.resetCalls();
    const s = await driver.createServer(req('np-tags'));
    expect(emu.calls()).toEqual({ RunInstances: 1 });
    const inst = emu.instances().find((i) => i.id === s.id)!;
    expect(inst.tags).toEqual({ Name: 'np-tags', ...OURS, nodepool_node_id: 'np-tags' });
    expect(inst.volumeTags).toEqual(inst.tags);
    expect(inst.clientToken).toBeTruthy();
  });

  it('a lost RunInstances answer retried by ManagedProvider makes one instance (same ClientToken)', async () => {
    const api = new ManagedProvider(driver, { clock, rateSeconds: 0.01, burst: 10, pollIntervalMs: 1000, retry: { maxRetries: 3, minDelayMs: 10, maxDelayMs: 10, jitter: 'none' } });
    emu.inject('RunInstances', 'lost-answer', 1);
    const before = emu.instances().length;
    const created = api.createServer(req('np-lost'));
    for (let i = 0; i < 20; i++) await clock.advance(10);
    const s = await created;
    expect(emu.instances().length).toBe(before + 1);
    expect(emu.instances().filter((i) => i.tags.Name === 'np-lost').map((i) => i.id)).toEqual([s.id]);
  });

  it('the same ClientToken sent again without the list answers the first instance', async () => {
    const r = req('np-token', { clientToken: 'token-np-token' });
    const a = await driver.createServer(r);
    emu.inject('RunInstances', 'lost-answer', 1);
    await expect(driver.createServer(r)).rejects.toThrow(/InternalError/);
    const b = await driver.createServer(r);
    expect(b.id).toBe(a.id);
    expect(emu.instances().filter((i) => i.tags.Name === 'np-token')).toHaveLength(1);
  });

  it('deletes arriving together go out as one TerminateInstances', async () => {
    const servers = await Promise.all(['np-d1', 'np-d2', 'np-d3'].map((n) => driver.createServer(req(n))));
    emu.resetCalls();
    await Promise.all(servers.map((s) => driver.deleteServer(s.id)));
    expect(emu.calls()).toEqual({ TerminateInstances: 1 });
    expect(emu.instances().filter((i) => servers.some((s) => s.id === i.id)).every((i) => i.state === 'shutting-down' || i.state === 'terminated')).toBe(true);
    // A batch with an unknown id: EC2 refuses it whole; each id then goes alone.
    const live = await driver.createServer(req('np-d4'));
    const results = await Promise.allSettled([driver.deleteServer(live.id), driver.deleteServer('i-0000000000000000f')]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
  });

  it('terminated instances leave the list at once although EC2 still describes them', async () => {
    const s = await driver.createServer(req('np-term'));
    await driver.deleteServer(s.id);
    const listed = (await driver.listServers()).find((x) => x.id === s.id);
    expect(listed?.status).toBe('deleting');
    await clock.advance(1000);
    expect(emu.instances().find((i) => i.id === s.id)?.state).toBe('terminated');
    expect((await driver.listServers()).some((x) => x.id === s.id)).toBe(false);
  });

  it('subnets round-robin, security groups, private address only with use-private-address, spot market', async () => {
    const subnets = [...new Set(emu.instances().map((i) => i.subnetId))];
    const zones = await startEc2Emulator({ clock, seed: 22, ssh: false, securityGroups: ['sg-0123456789abcdef0'] });
    try {
      // Two of the emulator's default subnets, learnt from two launches in different zones.
      const probe = createEc2Driver(ec2ProviderConfig(zones), { clock });
      const img = (await probe.listImages()).find((i) => i.status === 'active')!.id;
      const a = await probe.createServer({ ...req('np-za'), imageId: img, az: `${zones.region}a` });
      const b = await probe.createServer({ ...req('np-zb'), imageId: img, az: `${zones.region}b` });
      const ids = [a, b].map((s) => zones.instances().find((i) => i.id === s.id)!.subnetId);
      await probe.close();
      const spread = createEc2Driver(ec2ProviderConfig(zones, { subnets: ids, 'security-groups': ['sg-0123456789abcdef0'], 'use-private-address': true, market: 'spot' }), { clock });
      const made: CloudServer[] = [];
      for (const n of ['np-s1', 'np-s2', 'np-s3']) made.push(await spread.createServer({ ...req(n), imageId: img }));
      const recs = made.map((s) => zones.instances().find((i) => i.id === s.id)!);
      expect(recs.map((r) => r.subnetId)).toEqual([ids[0], ids[1], ids[0]]);
      expect(recs.every((r) => r.spot && r.publicIp === null)).toBe(true);
      await clock.advance(1000);
      const listed = (await spread.listServers()).find((s) => s.id === made[0].id)!;
      expect(listed.ip).toBe(recs[0].privateIp);
      expect(listed.az).toBe(`${zones.region}a`);
      // A spot interruption: the instance goes away, and a list no longer shows it (a lost node).
      zones.interruptSpot(made[1].id);
      await clock.advance(2000);
      expect((await spread.listServers()).some((s) => s.id === made[1].id)).toBe(false);
      await spread.close();
    } finally {
      await zones.close();
    }
    expect(subnets.length).toBeGreaterThan(0);
  });

  it('limits: InstanceLimitExceeded and VcpuLimitExceeded are quota errors, InsufficientInstanceCapacity a capacity error that pauses that type', async () => {
    emu.setLimits({ instanceLimit: 0 });
    await expect(driver.createServer(req('np-q1'))).rejects.toBeInstanceOf(QuotaExceededError);
    emu.setLimits({ instanceLimit: null, vcpuLimit: 0 });
    const vcpu = await driver.createServer(req('np-q2')).catch((e: unknown) => e);
    expect(vcpu).toBeInstanceOf(QuotaExceededError);
    expect((vcpu as Error).message).toMatch(/VcpuLimitExceeded/);
    emu.setLimits({ vcpuLimit: null });
    const api = new ManagedProvider(driver, { clock, rateSeconds: 0.01, burst: 10, pollIntervalMs: 1000 });
    emu.setCapacity('t3.small', 0);
    const cap = await api.createServer(req('np-c1')).catch((e: unknown) => e);
    expect(cap).toBeInstanceOf(CapacityError);
    emu.setCapacity('t3.small', null);
    emu.resetCalls();
    // Paused for the type: no call goes out; another type still launches.
    await expect(api.createServer(req('np-c2'))).rejects.toBeInstanceOf(CapacityError);
    expect(emu.calls().RunInstances ?? 0).toBe(0);
    expect(api.flavorPaused('t3.small')).toBe(true);
    await api.createServer(req('np-c3', { flavorId: 't3.medium' }));
    await clock.advance(2 * 60_000 + 1);
    await api.createServer(req('np-c4'));
    expect(emu.calls().RunInstances).toBe(2);
  });

  it('RequestLimitExceeded is a RateLimitedError without Retry-After', async () => {
    emu.inject('DescribeInstances', 'RequestLimitExceeded', 1);
    const err = await driver.listServers().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitedError);
    expect((err as RateLimitedError).retryAfterMs).toBeNull();
  });

  it('quota: max-instances, live usage in vCPUs and RAM by instance type, max-vcpus from config', async () => {
    emu.setLimits({ instanceLimit: 40 });
    const capped = createEc2Driver(ec2ProviderConfig(emu, { 'max-vcpus': 64 }), { clock });
    const q = await capped.getQuota();
    const live = emu.instances().filter((i) => i.state !== 'terminated');
    expect(q).toMatchObject({ maxInstances: 40, maxCores: 64, maxRamMb: null, usedInstances: live.length });
    expect(q.usedCores).toBe(live.length * 2);
    await capped.close();
    emu.setLimits({ instanceLimit: null });
  });

  it('an AMI: CreateImage tags image and snapshot; findImage by name or id; delete deregisters and deletes its snapshot', async () => {
    const s = await driver.createServer(req('np-bake'));
    await clock.advance(1000);
    emu.resetCalls();
    const id = await driver.createImage(s.id, 'ubuntu-1893456000', { ...OURS, nodepool_image_id: '5' });
    expect(emu.calls()).toEqual({ CreateImage: 1 });
    const img = emu.images().find((i) => i.id === id)!;
    expect(img.tags).toMatchObject({ ...OURS, nodepool_image_id: '5' });
    const snap = emu.snapshots().find((x) => x.id === img.snapshotId)!;
    expect(snap.tags).toMatchObject({ ...OURS, nodepool_image_id: '5' });
    expect((await driver.listImages()).find((i) => i.id === id)?.status).toBe('building');
    await clock.advance(1000);
    const api = new ManagedProvider(driver, { clock, rateSeconds: 0.01, burst: 10, pollIntervalMs: 1000 });
    expect((await api.findImage('ubuntu-1893456000')).id).toBe(id);
    expect((await api.findImage(id)).status).toBe('active');
    await driver.deleteImage(id);
    expect(emu.images().some((i) => i.id === id && i.state !== 'deregistered')).toBe(false);
    expect(emu.snapshots().some((x) => x.id === snap.id)).toBe(false);
  });

  it('a failed launch (pending -> terminated with Server.InternalError) is an error server with its reason until deleted', async () => {
    emu.failLaunches(true);
    let s: CloudServer;
    try {
      s = await driver.createServer(req('np-failed-launch'));
    } finally {
      emu.failLaunches(false);
    }
    await clock.advance(1000);
    expect((await driver.getServer(s.id)).status).toBe('error');
    expect(emu.instances().find((i) => i.id === s.id)).toMatchObject({ state: 'terminated', stateReason: 'Server.InternalError' });
    expect((await driver.listServers()).find((x) => x.id === s.id)).toMatchObject({ status: 'error', rawStatus: 'terminated', fault: 'Server.InternalError: Internal error on launch' });
    await driver.deleteServer(s.id);
    expect((await driver.listServers()).some((x) => x.id === s.id)).toBe(false);
    await expect(driver.getServer(s.id)).rejects.toBeInstanceOf(NotFoundError);
    // A spot interruption is not a failed launch: it stays a vanished (lost) instance.
    const spot = await createEc2Driver(ec2ProviderConfig(emu, { market: 'spot' }), { clock }).createServer(req('np-spot-gone'));
    await clock.advance(1000);
    emu.interruptSpot(spot.id);
    await clock.advance(1000);
    expect((await driver.listServers()).some((x) => x.id === spot.id)).toBe(false);
  });

  it('image artifacts: our snapshots with the AMIs using them; one its AMI left behind is deleted by id', async () => {
    const s = await driver.createServer(req('np-artifact'));
    await clock.advance(1000);
    const ami = await driver.createImage(s.id, 'np-artifact-image', { ...OURS, nodepool_image_id: '5' });
    const snap = emu.images().find((i) => i.id === ami)!.snapshotId!;
    expect((await driver.listImageArtifacts!()).find((a) => a.id === snap)).toMatchObject({ kind: 'snapshot', usedBy: [ami], metadata: { ...OURS, nodepool_image_id: '5' } });
    // DeregisterImage succeeds, DeleteSnapshot fails: the snapshot is used by nothing.
    emu.inject('DeleteSnapshot', 'InternalError', 1);
    await expect(driver.deleteImage(ami)).rejects.toThrow(/InternalError/);
    expect((await driver.listImageArtifacts!()).find((a) => a.id === snap)?.usedBy).toEqual([]);
    await driver.deleteImageArtifact!(snap);
    expect(emu.snapshots().some((x) => x.id === snap)).toBe(false);
    await expect(driver.deleteImageArtifact!(snap)).rejects.toBeInstanceOf(NotFoundError);
    await driver.deleteServer(s.id);
  });

  it('a delete that deregistered the AMI but failed on its snapshot is finished by the next delete', async () => {
    const s = await driver.createServer(req('np-bake2'));
    await clock.advance(1000);
    const id = await driver.createImage(s.id, 'ubuntu-1893457000', { ...OURS, nodepool_image_id: '6' });
    await clock.advance(1000);
    const snap = emu.images().find((i) => i.id === id)!.snapshotId!;
    emu.inject('DeleteSnapshot', 'InternalError', 1);
    await expect(driver.deleteImage(id)).rejects.toBeInstanceOf(CloudServerError);
    expect(emu.snapshots().some((x) => x.id === snap)).toBe(true);
    await driver.deleteImage(id);
    expect(emu.snapshots().some((x) => x.id === snap)).toBe(false);
    await expect(driver.deleteImage(id)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('instance-types bounds the flavors', async () => {
    const bounded = createEc2Driver(ec2ProviderConfig(emu, { 'instance-types': ['m5.large', 't3.medium'] }), { clock });
    expect((await bounded.listFlavors()).map((f) => f.name).sort()).toEqual(['m5.large', 't3.medium']);
    await bounded.close();
  });

  it('connect (provider-check) names the key and the endpoint', async () => {
    expect(await driver.connect!()).toEqual({ auth: `access key ${emu.credentials.accessKeyId.slice(0, 4)}... in ${emu.region}`, catalog: `ec2 ${emu.endpoint}` });
  });

  it('a base image by name only from the trusted owners', async () => {
    const foreign = await startEc2Emulator({ clock, seed: 23, ssh: false, images: [{ name: 'debian-12-amd64-20261101-1920', owned: false }] });
    try {
      const trusting = createEc2Driver(ec2ProviderConfig(foreign, { 'image-owners': ['999999999999'] }), { clock });
      expect(await trusting.listImages()).toEqual([]);
      await trusting.close();
    } finally {
      await foreign.close();
    }
  });
});

describe('EC2 driver over eventually consistent reads (new resources hidden from reads for 3 s)', () => {
  let clock: ManualClock;
  let emu: Ec2Emulator;
  let driver: ProviderDriver;
  let api: ManagedProvider;
  let imageId: string;
  const req = (name: string) => ({ name, imageId, flavorId: 't3.small', metadata: { ...OURS, nodepool_node_id: name } });
  /** Advances the clock in steps until `p` settles. */
  async function drive<T>(p: Promise<T>, stepMs = 100, steps = 600): Promise<T> {
    let done = false;
    const watched = p.finally(() => (done = true));
    watched.catch(() => undefined);
    for (let i = 0; i < steps && !done; i++) await clock.advance(stepMs);
    return watched;
  }

  beforeAll(async () => {
    clock = new ManualClock(START);
    emu = await startEc2Emulator({ clock, seed: 24, bootTimeMs: 1000, terminateTimeMs: 500, ssh: false, consistencyLagMs: 3000 });
    driver = createEc2Driver(ec2ProviderConfig(emu), { clock });
    api = new ManagedProvider(driver, { clock, rateSeconds: 0.01, burst: 10, pollIntervalMs: 500, retry: { maxRetries: 8, minDelayMs: 200, maxDelayMs: 2000, jitter: 'none' } });
    imageId = (await driver.listImages()).find((i) => i.status === 'active')!.id;
  });
  afterAll(async () => {
    await api?.close();
    await emu?.close();
  });

  it('a new instance is in our lists and gets before EC2 shows it, then as EC2 shows it', async () => {
    const s = await driver.createServer(req('np-lag1'));
    // Another client (no memory of the launch) does not see it yet: EC2 hides it.
    const other = createEc2Driver(ec2ProviderConfig(emu), { clock });
    expect((await other.listServers()).some((x) => x.id === s.id)).toBe(false);
    await expect(other.getServer(s.id)).rejects.toBeInstanceOf(NotFoundError);
    await other.close();
    expect((await driver.listServers()).find((x) => x.id === s.id)?.status).toBe('building');
    expect((await driver.getServer(s.id)).id).toBe(s.id);
    await clock.advance(3000);
    expect((await driver.listServers()).find((x) => x.id === s.id)?.status).toBe('active');
  });

  it('waiting for active never takes the hidden instance for a vanished one', async () => {
    const s = await api.createServer(req('np-lag2'));
    const active = await drive(api.waitForActive(s.id, 20_000));
    expect(active.status).toBe('active');
  });

  it('a delete right after the create terminates the instance, and waiting for gone ends', async () => {
    const s = await api.createServer(req('np-lag3'));
    await drive(api.deleteServer(s.id));
    expect(['shutting-down', 'terminated']).toContain(emu.instances().find((i) => i.id === s.id)?.state);
    await drive(api.waitForGone(s.id, 20_000));
  });

  it('a new AMI is listed building until EC2 shows it; a delete before that is retried, not taken as done', async () => {
    const s = await driver.createServer(req('np-lag4'));
    await clock.advance(3000);
    const id = await driver.createImage(s.id, 'lag-image-1', { ...OURS, nodepool_image_id: '9' });
    expect((await driver.listImages()).find((i) => i.id === id)?.status).toBe('building');
    const early = await driver.deleteImage(id).catch((e: unknown) => e);
    expect(early).toBeInstanceOf(CloudServerError);
    expect((early as CloudServerError).retryable).toBe(true);
    await drive(api.deleteImage(id));
    expect(emu.images().some((i) => i.id === id)).toBe(false);
    expect((await driver.listImages()).some((i) => i.id === id)).toBe(false);
  });
});

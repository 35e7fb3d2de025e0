// The OpenStack driver against the OpenStack emulator: the shared Provider contract, plus
// token renewal by the clock and after a revocation.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { AuthError, IncompleteListError, NotFoundError } from '../../src/errors.js';
import { configSchema, type ProviderConfig } from '../../src/config.js';
import { createOpenStackDriver } from '../../providers/openstack/driver.js';
import { startOpenStackEmulator, type OpenStackEmulator } from '../../providers/openstack/emulator/index.js';
import { chooseFlavor, type ProviderDriver } from '../../providers/provider.js';
import { defineProviderContract } from '../contract/provider-contract.js';

const START = Date.parse('2030-01-01T00:00:00Z');
const TTL_MS = 3_600_000;
const BIG = { instances: 1000, cores: 100_000, ramMb: 100_000_000 };

/** A provider section as the config schema makes it (defaults filled in). */
function providerConfig(authUrl: string, password = 'secret'): ProviderConfig {
  return configSchema.parse({
    labels: [{ name: 'small', image: 'ubuntu', providers: [{ name: 'emulated' }] }],
    providers: [
      {
        name: 'emulated',
        driver: 'openstack',
        auth: { 'auth-url': authUrl, username: 'admin', password, 'project-name': 'demo' },
        'region-name': 'RegionOne',
        'max-servers': 10,
        images: [{ name: 'ubuntu', 'base-image': 'ubuntu-jammy' }],
      },
    ],
  }).providers[0];
}

function callsMatching(emu: OpenStackEmulator, re: RegExp): number {
  return Object.entries(emu.calls())
    .filter(([k]) => re.test(k))
    .reduce((n, [, v]) => n + v, 0);
}

defineProviderContract('openstack', async () => {
  const clock = new ManualClock(START);
  const emulators: OpenStackEmulator[] = [];
  const emu = await startOpenStackEmulator({ clock, seed: 7, bootTimeMs: 1000, quota: BIG, ssh: false });
  emulators.push(emu);
  const pageSize = 2;
  const driver = createOpenStackDriver(providerConfig(emu.authUrl), { clock, pageSize });
  const image = (await driver.listImages()).find((i) => i.status === 'active');
  if (!image) throw new Error('the emulator offers no active image');
  const flavors = await driver.listFlavors();
  // A mid-sized flavor: large enough for any base image's min-ram.
  const flavor = chooseFlavor(flavors, 2048) ?? flavors.reduce((a, b) => (b.ramMb > a.ramMb ? b : a));
  return {
    driver,
    imageId: image.id,
    flavorId: flavor.id,
    pageSize,
    setQuota: (instances) => emu.setQuota({ ...BIG, instances }),
    settle: () => clock.advance(250),
    badCredentialsDriver: () => createOpenStackDriver(providerConfig(emu.authUrl, 'wrong'), { clock }),
    async rateLimitedDriver() {
      // Time frozen at one instant: the budget never refills.
      const frozen = new ManualClock(START);
      const limited = await startOpenStackEmulator({ clock: frozen, seed: 8, rateLimitPerSecond: 2, ssh: false });
      emulators.push(limited);
      return createOpenStackDriver(providerConfig(limited.authUrl), { clock: frozen });
    },
    failBoots: (on) => emu.setErrorRate(on ? 1 : 0),
    snapshotsBecomeActive: true,
    conductorQuota: (on) => emu.setQuotaRecheck(on ? 'conductor' : 'api'),
    breakPagination: (mode) => emu.breakPagination(mode),
    async cloudWithNetworks(networks) {
      const c = new ManualClock(START);
      const e = await startOpenStackEmulator({ clock: c, seed: 11, bootTimeMs: 1000, quota: BIG, ssh: false, networks });
      emulators.push(e);
      const d = createOpenStackDriver(providerConfig(e.authUrl), { clock: c });
      const img = (await d.listImages()).find((i) => i.status === 'active')!;
      const fl = chooseFlavor(await d.listFlavors(), 2048)!;
      return { driver: d, imageId: img.id, flavorId: fl.id, settle: () => c.advance(250), close: () => d.close() };
    },
    listCalls: () => callsMatching(emu, /^GET .*\/servers\/detail$/),
    async teardown() {
      await Promise.all(emulators.map((e) => e.close()));
    },
  };
});

describe('OpenStack driver token renewal against the emulator', () => {
  let clock: ManualClock;
  let emu: OpenStackEmulator;
  let driver: ProviderDriver;
  const auths = () => callsMatching(emu, /^POST .*\/auth\/tokens$/);

  beforeEach(async () => {
    clock = new ManualClock(START);
    emu = await startOpenStackEmulator({
      clock,
      seed: 3,
      ssh: false,
      tokenTtlMs: TTL_MS,
      images: [{ name: 'ubuntu-jammy', properties: { 'nodepool-image': 'base' } }, { name: 'cirros', owned: true }],
    });
    driver = createOpenStackDriver(providerConfig(emu.authUrl), { clock });
  });

  afterEach(async () => {
    await driver.close();
    await emu.close();
  });

  it('authenticates once for many calls, and again 60 s before the token expires', async () => {
    await Promise.all([driver.listFlavors(), driver.listServers(), driver.getQuota()]);
    expect(auths()).toBe(1);
    await clock.advance(TTL_MS - 61_000);
    await driver.listFlavors();
    expect(auths()).toBe(1);
    // Still valid for Keystone for another 59 s, but inside the renewal margin.
    await clock.advance(2_000);
    await driver.listFlavors();
    expect(auths()).toBe(2);
    // Renewed before calling Nova: no call met a 401.
    expect(callsMatching(emu, /^GET .*\/flavors\/detail$/)).toBe(3);
  });

  it('re-authenticates once after a 401 (tokens revoked) and the call succeeds', async () => {
    await driver.listFlavors();
    emu.revokeTokens();
    const flavors = await driver.listFlavors();
    expect(flavors.length).toBeGreaterThan(0);
    expect(auths()).toBe(2);
    // The first try met the 401, the second succeeded.
    expect(callsMatching(emu, /^GET .*\/flavors\/detail$/)).toBe(3);
  });

  it('a broken Glance pagination chain is an IncompleteListError, not a partial list', async () => {
    const paged = createOpenStackDriver(providerConfig(emu.authUrl), { clock, pageSize: 1 });
    try {
      expect((await paged.listImages()).map((i) => i.name).sort()).toEqual(['cirros', 'ubuntu-jammy']);
      for (const mode of ['repeat-marker', 'page-404', 'page-503'] as const) {
        emu.breakPagination(mode);
        const err = await paged.listImages().catch((e: unknown) => e);
        expect(err, mode).toBeInstanceOf(IncompleteListError);
        expect((err as IncompleteListError).retryable).toBe(true);
      }
      emu.breakPagination(null);
      expect(await paged.listImages()).toHaveLength(2);
    } finally {
      await paged.close();
    }
  });

  it('lists Glance images with their properties; our own image is deleted, others answer 403, gone ones 404', async () => {
    const images = await driver.listImages();
    const ubuntu = images.find((i) => i.name === 'ubuntu-jammy');
    expect(ubuntu).toMatchObject({ status: 'active', metadata: { 'nodepool-image': 'base' }, created: START });
    // A public image from the operator's project: Glance refuses with 403, not a quota problem.
    const refused = await driver.deleteImage(ubuntu!.id).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(AuthError);
    expect((refused as Error).message).toBe(`DELETE /image/v2/images/${ubuntu!.id}: 403 You are not permitted to delete this image.`);
    // Our own image goes; deleting it again answers 404.
    const cirros = images.find((i) => i.name === 'cirros')!;
    await driver.deleteImage(cirros.id);
    expect((await driver.listImages()).map((i) => i.name)).toEqual(['ubuntu-jammy']);
    const missing = await driver.deleteImage(cirros.id).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(NotFoundError);
    expect((missing as Error).message).toMatch(new RegExp(`^DELETE /image/v2/images/${cirros.id}: 404 `));
  });
});

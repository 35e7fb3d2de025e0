// Launch paths that depend on how real Nova answers (issue 6): a quota found by the conductor,
// a networks setting Nova cannot satisfy, and a server without an address (host-key-checking off).
// The daemon runs in-process against the emulator; tests wait on conditions, never on sleeps.
import { readFile, writeFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { startPool, type PoolHarness } from '../helpers/pool-harness.js';
import { waitFor } from '../helpers/wait.js';

describe('OpenStack launch safety (daemon against the emulator)', () => {
  let h: PoolHarness | null = null;
  afterEach(async () => {
    await h?.close();
    h = null;
  });

  it('a server the conductor puts in ERROR for quota is a quota refusal: no retry of that node, estimate shrunk, server deleted', async () => {
    // A burst of three creates is accepted (202 each); before they boot the quota is 2 (as when
    // the API's count lags the conductor's), so the third boot ends in ERROR with fault 413.
    h = await startPool({
      clouds: [{ name: 'c1', maxServers: 6, quotaRecheck: 'conductor', bootTimeMs: 1500 }],
      labels: [{ name: 'small', minReady: 3, providers: ['c1'] }],
    });
    const emu = h.clouds.get('c1')!;
    const daemon = await h.startDaemon();
    await waitFor(() => emu.servers().filter((s) => s.status === 'BUILD').length === 3, { what: 'three creates accepted' });
    emu.setQuota({ instances: 2 });
    await waitFor(async () => (await daemon.store.listLaunchFailures({ provider: 'c1' })).some((f) => f.code === 'quota'), { what: 'a quota failure' });
    await waitFor(async () => (await daemon.store.listNodes({ states: ['ready'] })).length === 2, { what: 'two ready nodes' });
    const failures = await daemon.store.listLaunchFailures({ provider: 'c1' });
    // Every failure is the quota one: none was treated as a broken boot and retried.
    expect(failures.map((f) => f.code)).toEqual(failures.map(() => 'quota'));
    expect(failures[0].message).toMatch(/Quota exceeded for instances: Requested 1, but already used \d+ of 2 instances/);
    // The ERROR server is deleted; the estimate keeps the planner from creating past the quota again.
    await waitFor(() => emu.servers().every((s) => s.status !== 'ERROR'), { what: 'the ERROR server deleted' });
    const creates = () => emu.calls()['POST /compute/v2.1/servers'] ?? 0;
    const before = creates();
    await waitFor(async () => (await daemon.store.listNodes()).length === 2 && emu.servers().length === 2, { what: 'pool settled at the quota' });
    expect(creates() - before).toBeLessThanOrEqual(1);
  });

  it('networks auto with several networks visible fails once with network-config, no retries', async () => {
    h = await startPool({
      clouds: [{ name: 'c1', maxServers: 2, networks: [{ name: 'net-a' }, { name: 'net-b' }], settings: { 'launch-retries': 3 } }],
      labels: [{ name: 'small', minReady: 1, providers: ['c1'] }],
    });
    const daemon = await h.startDaemon();
    const [f] = await waitFor(async () => {
      const all = await daemon.store.listLaunchFailures({ provider: 'c1' });
      return all.length > 0 ? all : null;
    }, { what: 'a launch failure' });
    expect(f.code).toBe('network-config');
    expect(f.message).toMatch(/several networks.*Multiple possible networks found/);
    expect(f.nodeId).not.toBeNull();
    // The node gives up after this one attempt (a retry would record a second failure first).
    await waitFor(async () => (await daemon.store.audit({ kind: 'node', objectId: f.nodeId! })).some((a) => a.toState === 'deleting'), { what: 'the node given up' });
    const ofNode = (await daemon.store.listLaunchFailures({ provider: 'c1' })).filter((x) => x.nodeId === f.nodeId);
    expect(ofNode.map((x) => x.code)).toEqual(['network-config']);
    expect(h.clouds.get('c1')!.servers()).toEqual([]);
  });

  it('host-key-checking: false with networks: none makes a ready node without an address (no SSH wait)', async () => {
    h = await startPool({
      clouds: [{ name: 'c1', maxServers: 2, settings: { networks: 'none', 'launch-retries': 1 } }],
      labels: [{ name: 'small', minReady: 1, providers: ['c1'] }],
    });
    const cfg = await readFile(h.configPath, 'utf8');
    await writeFile(h.configPath, cfg.replace('private-key:', 'host-key-checking: false, private-key:'));
    const daemon = await h.startDaemon();
    const [ready] = await waitFor(async () => {
      const n = await daemon.store.listNodes({ states: ['ready'] });
      return n.length ? n : null;
    }, { what: 'a ready node' });
    expect(ready.ip).toBeNull();
  });

  it('an ACTIVE server without an address, SSH checking on: a launch failure that names the reason', async () => {
    h = await startPool({
      clouds: [{ name: 'c1', maxServers: 1, settings: { networks: 'none', 'launch-retries': 1 } }],
      labels: [{ name: 'small', minReady: 1, providers: ['c1'] }],
    });
    const daemon = await h.startDaemon();
    const [f] = await waitFor(async () => {
      const all = await daemon.store.listLaunchFailures({ provider: 'c1' });
      return all.length > 0 ? all : null;
    }, { what: 'a launch failure' });
    expect(f.code).toBe('launch-failed');
    expect(f.message).toMatch(/ACTIVE but has no usable address for SSH \(addresses: none\)/);
  });
});

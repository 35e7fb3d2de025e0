// Gearman node_status:<manager> on real parts: a real gearmand, the simulated master as the
// manager (node_assign, node_revoke, node_status), GearmanTarget.view, and the daemon's reconcile
// pass repairing a Gearman target's nodes when every build event is lost.
import { afterEach, expect, it, vi } from 'vitest';
import { deadPort, startClockedSim, startDaemonNoGrace } from '../helpers/ci-rig.js';
import { startGearmand, type Gearmand } from '../helpers/gearmand.js';
import { startPool, type PoolHarness } from '../helpers/pool-harness.js';
import { waitFor } from '../helpers/wait.js';
import { ManualClock } from '../../src/clock.js';
import { GearmanAdminClient } from '../../src/gearman/admin-client.js';
import { silentLogger } from '../../src/log.js';
import { startLoad, type Load } from '../../src/sim/load.js';
import { startSimMaster, type SimMaster } from '../../src/sim/master.js';
import { GearmanTarget, parseStatusReply } from '../../src/targets/gearman.js';

let gearmand: Gearmand | null = null;
let sim: SimMaster | null = null;
let h: PoolHarness | null = null;
let load: Load | null = null;
let target: GearmanTarget | null = null;
afterEach(async () => {
  vi.restoreAllMocks();
  await load?.stop();
  await target?.close();
  await h?.close();
  await sim?.close();
  await gearmand?.stop();
  h = sim = gearmand = load = target = null;
});

async function serving(g: Gearmand, fns: string[]): Promise<void> {
  const admin = new GearmanAdminClient({ host: g.host, port: g.port });
  try {
    await waitFor(async () => {
      const rows = await admin.status();
      return fns.every((fn) => (rows.find((r) => r.function === fn)?.workers ?? 0) > 0);
    }, { what: `workers for ${fns.join(', ')}` });
  } finally {
    await admin.close();
  }
}

it('parseStatusReply: present is required; busy and offline default false; builds kept when a count', () => {
  expect(parseStatusReply('{"name":"n","present":true,"busy":true,"builds":1}', 'n')).toEqual({ present: true, busy: true, offline: false, builds: 1 });
  expect(parseStatusReply('{"present":false}', 'n')).toEqual({ present: false, busy: false, offline: false });
  expect(parseStatusReply('{"present":true,"builds":-1}', 'n')).toEqual({ present: true, busy: false, offline: false });
  expect(() => parseStatusReply('{"busy":true}', 'n')).toThrow(/node_status for n/);
  expect(() => parseStatusReply('ok', 'n')).toThrow(/node_status for n/);
});

it('GearmanTarget.view asks node_status:<manager>: absent, idle, busy, then done after its build; one job per node, admin status cached', { timeout: 60_000 }, async () => {
  gearmand = await startGearmand();
  const server = { host: gearmand.host, port: gearmand.port };
  const buildClock = new ManualClock(Date.now());
  sim = await startClockedSim(gearmand, buildClock, { user: 'u', apiToken: 't', managerName: 'mgr-1' });
  await serving(gearmand, ['node_assign:sim-master', 'node_status:mgr-1']);
  // The target's clock only drives the status-check cache here: it moves when the test says.
  const clock = new ManualClock(Date.now());
  target = new GearmanTarget({ name: 'sim-master', servers: [server], log: silentLogger, clock, timeoutMs: 10_000 });
  const adminCalls = vi.spyOn(GearmanAdminClient.prototype, 'status');
  const node = { hostname: 'gm-1', manager: 'mgr-1' };

  const s0 = sim.nodeStatusRequests();
  expect(await target.view(node)).toEqual({ present: false, busy: false, offline: false, builds: 0 });
  expect(adminCalls).toHaveBeenCalledTimes(1);
  const { manager } = await target.register({ name: 'gm-1', host: '10.0.0.1', port: 22, description: 'd', labels: ['small'] });
  expect(manager).toBe('mgr-1');
  adminCalls.mockClear();
  expect(await target.view(node)).toEqual({ present: true, busy: false, offline: false, builds: 0 });
  expect(await target.view({ hostname: 'gm-2', manager: 'mgr-1' })).toMatchObject({ present: false });
  // Three views: three node_status jobs; the one admin status of the first is reused (availabilityTtlMs).
  expect(sim.nodeStatusRequests() - s0).toBe(3);
  expect(adminCalls).not.toHaveBeenCalled();

  load = startLoad({ gearman: [server], jobs: [{ name: 'unit', label: 'small' }], ratePerSecond: 100, count: 1 });
  await waitFor(() => sim!.builds()[0], { what: 'the build on gm-1' });
  expect(await target.view(node)).toEqual({ present: true, busy: true, offline: false, builds: 1 });
  await buildClock.advance(1000);
  await load.done;
  // OFFLINE_NODE_WHEN_COMPLETE: the manager schedules nothing more on it.
  await waitFor(async () => !(await target!.view(node))?.busy, { what: 'the build over' });
  expect(await target.view(node)).toEqual({ present: true, busy: false, offline: true, builds: 1 });
  // Once the cache is older than the TTL, the next view asks the servers again.
  await clock.advance(2000);
  adminCalls.mockClear();
  await target.view(node);
  expect(adminCalls).toHaveBeenCalledTimes(1);
});

it('GearmanTarget.view answers null (skip) for a manager without node_status and for a node with no manager', { timeout: 30_000 }, async () => {
  gearmand = await startGearmand();
  const server = { host: gearmand.host, port: gearmand.port };
  sim = await startSimMaster({ gearman: [server], user: 'u', apiToken: 't', log: silentLogger, managerName: 'old-mgr', nodeStatus: false });
  await serving(gearmand, ['node_assign:sim-master', 'node_revoke:old-mgr']);
  target = new GearmanTarget({ name: 'sim-master', servers: [server], log: silentLogger, timeoutMs: 10_000 });
  await target.register({ name: 'gm-old', host: '10.0.0.1', port: 22, description: 'd', labels: [] });
  expect(await target.view({ hostname: 'gm-old', manager: 'old-mgr' })).toBeNull();
  expect(await target.view({ hostname: 'gm-old', manager: null })).toBeNull();
  // Nothing was queued for a function nobody serves.
  const admin = new GearmanAdminClient({ host: server.host, port: server.port });
  try {
    expect((await admin.status()).find((r) => r.function === 'node_status:old-mgr')).toBeUndefined();
  } finally {
    await admin.close();
  }
});

it('with every build event lost, the pass puts a Gearman target\'s node in use and deletes it after its build, from node_status', { timeout: 60_000 }, async () => {
  gearmand = await startGearmand();
  const server = { host: gearmand.host, port: gearmand.port };
  const buildClock = new ManualClock(Date.now());
  sim = await startClockedSim(gearmand, buildClock, { user: 'u', apiToken: 't' });
  h = await startPool({
    clouds: [{ name: 'cloud-a', maxServers: 2 }],
    labels: [{ name: 'small', minReady: 1, providers: ['cloud-a'] }],
    extraTop: [
      `gearman-servers: [{ host: ${gearmand.host}, port: ${gearmand.port} }]`,
      `zmq-publishers: ["tcp://127.0.0.1:${await deadPort()}"]`,
      'demand-interval: 0.3s',
      'reconcile-interval: 0.3s',
      'targets:',
      '  - { name: sim-master, gearman: {} }',
    ],
  });
  const daemon = await startDaemonNoGrace(h);
  const ready = await waitFor(async () => (await daemon.store.listNodes({ states: ['ready'] }))[0], { what: 'one ready node' });
  expect(ready.manager).toBe('sim-master');

  load = startLoad({ gearman: [server], jobs: [{ name: 'unit', label: 'small' }], ratePerSecond: 100, count: 1 });
  const build = await waitFor(() => sim!.builds()[0], { what: 'the build' });
  expect(build.node).toBe(ready.hostname);
  await waitFor(async () => (await daemon.store.getNode(ready.id))?.state === 'in-use', { what: 'node in use via node_status' });
  await waitFor(async () => (await daemon.store.listNodes({ states: ['ready'] })).some((n) => n.id !== ready.id), { what: 'a replacement ready' });
  await buildClock.advance(1000);
  await load.done;
  await waitFor(async () => !(await daemon.store.getNode(ready.id)), { what: 'used node deleted' });
  // Revoked from the manager on delete.
  expect(sim.nodes().some((n) => n.name === ready.hostname)).toBe(false);
  expect((await daemon.store.audit({ kind: 'node', objectId: ready.id })).map((a) => a.reason)).toEqual(
    expect.arrayContaining([expect.stringMatching(/^reconcile: master runs a build on it/), expect.stringMatching(/^reconcile: in-use node idle and offline after its build/)]),
  );
  const repairs = (await daemon.metrics.targetRepairs.get()).values.map((v) => [v.labels.target, v.labels.action, v.value]);
  expect(repairs).toEqual(expect.arrayContaining([['sim-master', 'in-use', 1], ['sim-master', 'used', 1]]));
});

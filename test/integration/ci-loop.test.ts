// The whole CI loop on real parts: a real gearmand, real ZeroMQ sockets, the Jenkins REST API of
// the simulated master, and two emulated clouds. Builds queue in gearmand; the daemon launches,
// registers, hears onStarted/onFinalized, replaces and deletes.
import { afterEach, expect, it } from 'vitest';
import { ciTop, startClockedSim } from '../helpers/ci-rig.js';
import { startGearmand, type Gearmand } from '../helpers/gearmand.js';
import { startPool, type PoolHarness } from '../helpers/pool-harness.js';
import { waitFor } from '../helpers/wait.js';
import { startSimMaster, type SimMaster } from '../../src/sim/master.js';
import { startLoad, type LoadJob } from '../../src/sim/load.js';
import { silentLogger } from '../../src/log.js';
import type { Daemon } from '../../src/daemon.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { ManualClock } from '../../src/clock.js';

let gearmand: Gearmand | null = null;
let sim: SimMaster | null = null;
let h: PoolHarness | null = null;
afterEach(async () => {
  await h?.close();
  await sim?.close();
  await gearmand?.stop();
  h = sim = gearmand = null;
});

type EventStats = { received: number; bad: Record<string, number> };
const eventStats = (d: Daemon) => d.health().events as EventStats;

/** Publishes bad frames until the daemon has counted one: proves the subscription is live. */
async function badFramesCounted(d: Daemon, s: SimMaster): Promise<void> {
  const frames = ['garbage', 'onStarted {not json', 'onSomething {}', 'onStarted {"name":"x","build":{"number":1}}'];
  const before = eventStats(d).received;
  await waitFor(
    async () => {
      for (const f of frames) await s.publish(f);
      return eventStats(d).received > before;
    },
    { what: 'the listener to receive frames', intervalMs: 100 },
  );
}

it('deletes a node whose Jenkins registration is refused, and leaks no server', async () => {
  sim = await startSimMaster({ gearman: [], user: 'nodepool', apiToken: 'right', log: silentLogger });
  h = await startPool({
    clouds: [{ name: 'cloud-a', maxServers: 2 }],
    labels: [{ name: 'small', minReady: 1, providers: ['cloud-a'] }],
    extraTop: ['targets:', `  - { name: jenkins, jenkins: { url: "${sim.jenkinsUrl}", user: nodepool, apikey: wrong, credentials-id: ssh-key } }`],
  });
  const daemon = await h.startDaemon();
  const failed = await waitFor(async () => (await daemon.store.audit({ kind: 'node' })).find((a) => a.toState === 'deleting'), { what: 'a refused node' });
  expect(failed.reason).toMatch(/launch failed after 1 attempt\(s\): .*nodepool/);
  await waitFor(async () => !(await daemon.store.getNode(failed.objectId)), { what: 'refused node deleted' });
  // Launches of that label pause (5 s, then longer): no churn of servers against a broken master.
  expect(h.clouds.get('cloud-a')!.calls()['POST /compute/v2.1/servers']).toBe(1);
  expect((await daemon.store.listNodes()).length).toBe(0);
  expect(sim.nodes()).toEqual([]);
  await daemon.stop();
  const store = SqliteStore.open(h.dbPath);
  const live = new Set((await store.listNodes()).map((n) => n.serverId));
  await store.close();
  expect(h.clouds.get('cloud-a')!.servers().filter((s) => !live.has(s.id))).toEqual([]);
});

it('runs 50 builds on fresh single-use nodes through gearmand and publisher restarts', { timeout: 180_000 }, async () => {
  gearmand = await startGearmand();
  const server = { host: gearmand.host, port: gearmand.port };
  sim = await startSimMaster({
    gearman: [server],
    user: 'nodepool',
    apiToken: 'token',
    buildDurationMs: 150,
    jobs: [
      { name: 'unit', labels: ['small'] },
      { name: 'integration', labels: ['large'] },
    ],
    log: silentLogger,
  });
  h = await startPool({
    clouds: [
      { name: 'cloud-a', maxServers: 6 },
      { name: 'cloud-b', maxServers: 6 },
    ],
    labels: [
      { name: 'small', minReady: 2, providers: ['cloud-a', 'cloud-b'] },
      { name: 'large', minReady: 1, providers: ['cloud-a', 'cloud-b'] },
    ],
    extraTop: ciTop(gearmand, sim),
  });
  const daemon = await h.startDaemon();
  await waitFor(async () => (await daemon.store.listNodes({ states: ['ready'] })).length === 3, { what: 'min-ready before load' });

  // Garbage, non-JSON, unknown topics and a missing node_name are counted; the loop goes on.
  await badFramesCounted(daemon, sim);
  const bad = eventStats(daemon).bad;
  for (const reason of ['garbage', 'not-json', 'unknown-topic', 'missing-field']) expect(bad[reason]).toBeGreaterThan(0);

  const jobs: LoadJob[] = [
    { name: 'unit', label: 'small' },
    { name: 'integration', label: 'large' },
  ];
  const wave = async (count: number) => {
    const load = startLoad({ gearman: [server], jobs, ratePerSecond: 25, count });
    await load.done;
    await load.stop();
    expect(load.outcomes().filter((o) => o.outcome !== 'complete')).toEqual([]);
  };
  await wave(20);
  // gearmand goes away and comes back: demand, the master's workers and the loop recover.
  await gearmand.restart();
  await wave(15);
  // The publisher restarts: the subscriber reconnects and events flow again.
  await sim.restartPublisher();
  await badFramesCounted(daemon, sim);
  await wave(15);

  const builds = sim.builds().filter((b) => b.result !== null);
  expect(builds).toHaveLength(50);
  // Each build on its own fresh node; no node ran two builds.
  expect(new Set(builds.map((b) => b.node)).size).toBe(50);
  expect(sim.nodes().every((n) => n.buildsRun <= 1)).toBe(true);
  // Every used node is unregistered from Jenkins and deleted; the pool returns to min-ready.
  // (It may hold a few more ready nodes: launches for builds that found a node first. They wait
  // for the next builds, as in the original Nodepool, until max-age.ready.)
  await waitFor(
    async () => {
      const nodes = await daemon.store.listNodes();
      const names = new Set(nodes.map((n) => n.hostname));
      const ready = nodes.filter((n) => n.state === 'ready');
      return (
        builds.every((b) => !names.has(b.node)) &&
        nodes.every((n) => n.state === 'ready') &&
        ready.filter((n) => n.label === 'small').length >= 2 &&
        ready.filter((n) => n.label === 'large').length >= 1
      );
    },
    { what: 'used nodes deleted and pool back at min-ready', timeoutMs: 60_000 },
  );
  const simNames = new Set(sim.nodes().map((n) => n.name));
  expect(builds.filter((b) => simNames.has(b.node))).toEqual([]);
  const live = new Set((await daemon.store.listNodes()).map((n) => n.serverId));
  await waitFor(() => [...h!.clouds.values()].flatMap((c) => c.servers()).every((s) => live.has(s.id)), { what: 'no server without a row' });
});

it('single use on Jenkins: with two builds queued for one label and one node, the node runs exactly one', { timeout: 60_000 }, async () => {
  gearmand = await startGearmand();
  const server = { host: gearmand.host, port: gearmand.port };
  // Builds end only when this clock is advanced: the daemon's onStarted handling cannot race them.
  const buildClock = new ManualClock(Date.now());
  sim = await startClockedSim(gearmand, buildClock);
  h = await startPool({
    clouds: [{ name: 'cloud-a', maxServers: 1 }],
    labels: [{ name: 'small', minReady: 1, providers: ['cloud-a'] }],
    extraTop: ciTop(gearmand, sim),
  });
  const daemon = await h.startDaemon();
  await waitFor(async () => (await daemon.store.listNodes({ states: ['ready'] })).length === 1, { what: 'one ready node' });
  // Jenkins' own queue: nothing in the build asks the Gearman plugin to take the agent offline.
  const load = startLoad({ gearman: [server], jobs: [{ name: 'unit', label: 'small' }], ratePerSecond: 100, count: 2, offlineWhenComplete: false });
  try {
    const first = await waitFor(() => sim!.builds()[0], { what: 'the first build' });
    // The daemon takes the agent offline on onStarted (a real Jenkins would otherwise give it the second build).
    await waitFor(() => sim!.nodes().find((n) => n.name === first.node)?.temporarilyOffline, { what: 'the agent taken offline by the daemon' });
    await buildClock.advance(1000);
    // The used node is deleted; a fresh one (max-servers 1) takes the second build.
    const second = await waitFor(() => sim!.builds()[1], { what: 'the second build', timeoutMs: 30_000 });
    await waitFor(() => sim!.nodes().find((n) => n.name === second.node)?.temporarilyOffline, { what: 'the second agent taken offline' });
    await buildClock.advance(1000);
    await load.done;
    expect(sim.builds().map((b) => b.node)).toEqual([first.node, second.node]);
    expect(second.node).not.toBe(first.node);
    expect(sim.builds().every((b) => b.result === 'SUCCESS')).toBe(true);
    expect(load.outcomes().map((o) => o.outcome)).toEqual(['complete', 'complete']);
  } finally {
    await load.stop();
  }
});

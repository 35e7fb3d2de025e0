// Single use hangs on taking the agent offline at onStarted: a Jenkins agent left online after its
// build takes the next queued build, and the simulated Jenkins does the same. Made deterministic by
// losing the build's onFinalized (the publisher stops once onStarted was handled), so no delete can
// race the master's scheduler: with the offline step the second build waits for a fresh node; with
// JenkinsTarget.takeOffline stubbed out (the control), the master runs it on the same node.
import { afterEach, expect, it, vi } from 'vitest';
import { ciTop, listenerLive, startClockedSim, startDaemonNoGrace } from '../helpers/ci-rig.js';
import { startGearmand, type Gearmand } from '../helpers/gearmand.js';
import { startPool, type PoolHarness } from '../helpers/pool-harness.js';
import { waitFor } from '../helpers/wait.js';
import { ManualClock } from '../../src/clock.js';
import type { Daemon } from '../../src/daemon.js';
import { startLoad, type Load } from '../../src/sim/load.js';
import type { SimMaster } from '../../src/sim/master.js';
import { JenkinsTarget } from '../../src/targets/jenkins.js';

let gearmand: Gearmand | null = null;
let sim: SimMaster | null = null;
let h: PoolHarness | null = null;
let load: Load | null = null;
afterEach(async () => {
  vi.restoreAllMocks();
  await load?.stop();
  await h?.close();
  await sim?.close();
  await gearmand?.stop();
  h = sim = gearmand = load = null;
});

async function run(stubOffline: boolean): Promise<{ sim: SimMaster; daemon: Daemon; buildClock: ManualClock; first: string }> {
  const offline = vi.spyOn(JenkinsTarget.prototype, 'takeOffline');
  if (stubOffline) offline.mockResolvedValue(undefined);
  gearmand = await startGearmand();
  const server = { host: gearmand.host, port: gearmand.port };
  const buildClock = new ManualClock(Date.now());
  sim = await startClockedSim(gearmand, buildClock);
  h = await startPool({
    // One server: no replacement can take the second build while the first runs.
    clouds: [{ name: 'cloud-a', maxServers: 1 }],
    labels: [{ name: 'small', minReady: 1, providers: ['cloud-a'] }],
    extraTop: ciTop(gearmand, sim, ['reconcile-interval: 1h']),
  });
  // No grace: the reconnect's pass may judge the in-use node at once.
  const daemon = await startDaemonNoGrace(h);
  const node = await waitFor(async () => (await daemon.store.listNodes({ states: ['ready'] }))[0], { what: 'one ready node' });
  const handled = () => (daemon.health().events as { handled: number }).handled;
  await listenerLive(sim, handled);
  // Jenkins' own queue: nothing in the builds asks the Gearman plugin to take the agent offline.
  load = startLoad({ gearman: [server], jobs: [{ name: 'unit', label: 'small' }], ratePerSecond: 100, count: 2, offlineWhenComplete: false });
  await waitFor(() => sim!.builds()[0], { what: 'the first build' });
  await waitFor(async () => (await daemon.store.getNode(node.id))?.state === 'in-use', { what: 'onStarted handled' });
  // The daemon has done its onStarted step (really, or into the stub).
  await waitFor(() => offline.mock.calls.some(([x]) => x.hostname === node.hostname), { what: 'takeOffline called' });
  if (!stubOffline) await waitFor(() => sim!.nodes().find((x) => x.name === node.hostname)?.temporarilyOffline, { what: 'the agent offline on the master' });
  await sim.stopPublisher();
  await buildClock.advance(1000);
  return { sim, daemon, buildClock, first: node.hostname };
}

it('control: with takeOffline stubbed out, the simulated Jenkins runs the second build on the node', { timeout: 60_000 }, async () => {
  const { sim: s, first } = await run(true);
  await waitFor(() => s.builds().length === 2, { what: 'the second build' });
  expect(s.builds().map((b) => b.node)).toEqual([first, first]);
  expect(s.nodes().find((x) => x.name === first)?.buildsRun).toBe(2);
});

it('taken offline at onStarted, the node runs one build; the second waits for a fresh node', { timeout: 60_000 }, async () => {
  const { sim: s, daemon, buildClock, first } = await run(false);
  await waitFor(() => s.builds()[0]?.result === 'SUCCESS', { what: 'the first build over' });
  expect(s.builds()).toHaveLength(1);
  // The publisher comes back: the reconnect's pass finds the node idle and offline, deletes it,
  // and the fresh node takes the second build.
  await s.startPublisher();
  const second = await waitFor(() => s.builds()[1], { what: 'the second build', timeoutMs: 30_000 });
  expect(second.node).not.toBe(first);
  await buildClock.advance(1000);
  await load!.done;
  expect(s.builds().map((b) => b.node)).toEqual([first, second.node]);
  expect(s.nodes().every((x) => x.buildsRun <= 1)).toBe(true);
  expect(await daemon.store.getNodeByHostname(first)).toBeUndefined();
});

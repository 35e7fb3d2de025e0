// Lost build events, on real parts: a real gearmand, the simulated Jenkins master and an emulated
// cloud. The daemon subscribes to a ZeroMQ address where no publisher listens, so it hears no
// onStarted and no onFinalized at all: only the target reconcile pass (Target.view against the
// master's /computer/NAME/api/json) can put the node in use and, once its build ended, delete it.
import { afterEach, expect, it } from 'vitest';
import { ciTop, deadPort, startClockedSim, startDaemonNoGrace } from '../helpers/ci-rig.js';
import { startGearmand, type Gearmand } from '../helpers/gearmand.js';
import { startPool, type PoolHarness } from '../helpers/pool-harness.js';
import { waitFor } from '../helpers/wait.js';
import { startSimMaster, type SimMaster } from '../../src/sim/master.js';
import { startLoad, type Load } from '../../src/sim/load.js';
import { silentLogger } from '../../src/log.js';
import type { Daemon } from '../../src/daemon.js';
import { ManualClock } from '../../src/clock.js';
import { JenkinsTarget } from '../../src/targets/jenkins.js';

let gearmand: Gearmand | null = null;
let sim: SimMaster | null = null;
let h: PoolHarness | null = null;
let load: Load | null = null;
afterEach(async () => {
  await load?.stop();
  await h?.close();
  await sim?.close();
  await gearmand?.stop();
  h = sim = gearmand = load = null;
});

async function setUp(reconcileInterval: string): Promise<{ buildClock: ManualClock; start: () => Promise<Daemon> }> {
  gearmand = await startGearmand();
  // Builds end only when this clock is advanced.
  const buildClock = new ManualClock(Date.now());
  sim = await startClockedSim(gearmand, buildClock);
  h = await startPool({
    clouds: [{ name: 'cloud-a', maxServers: 3 }],
    labels: [{ name: 'small', minReady: 1, providers: ['cloud-a'] }],
    extraTop: ciTop(gearmand, sim, [`reconcile-interval: ${reconcileInterval}`], `tcp://127.0.0.1:${await deadPort()}`),
  });
  const harness = h;
  return {
    buildClock,
    start: () => startDaemonNoGrace(harness),
  };
}

const passes = (d: Daemon) => d.targetReconcile.stats().passes;

it('with every build event lost, the reconcile pass puts the node in use and deletes it after its build, one GET per node per pass', { timeout: 60_000 }, async () => {
  const { buildClock, start } = await setUp('0.3s');
  const daemon = await start();
  const ready = await waitFor(async () => (await daemon.store.listNodes({ states: ['ready'] }))[0], { what: 'one ready node' });

  // Cost: with the pool idle, each pass asks the master once per node ready or in use.
  const nodesNow = async () => (await daemon.store.listNodes({ states: ['ready', 'in-use'] })).length;
  const gets = () => sim!.requests()['GET /computer/NAME/api/json'] ?? 0;
  await waitFor(async () => (await daemon.store.listNodes()).every((n) => n.state === 'ready'), { what: 'a quiet pool' });
  const [g0, p0, n0] = [gets(), passes(daemon), await nodesNow()];
  await waitFor(() => passes(daemon) >= p0 + 3, { what: 'three passes' });
  const [g1, p1] = [gets(), passes(daemon)];
  expect(await nodesNow()).toBe(n0);
  expect(g1 - g0).toBe((p1 - p0) * n0);
  expect(daemon.targetReconcile.stats()).toMatchObject({ nodes: n0, views: n0, failed: 0, repairs: 0 });

  load = startLoad({ gearman: [{ host: gearmand!.host, port: gearmand!.port }], jobs: [{ name: 'unit', label: 'small' }], ratePerSecond: 100, count: 1, offlineWhenComplete: false });
  const build = await waitFor(() => sim!.builds()[0], { what: 'the build' });
  expect(build.node).toBe(ready.hostname);
  // onStarted never arrives: within one pass the node is in use, offline on the master, replaced.
  const before = passes(daemon);
  await waitFor(async () => (await daemon.store.getNode(ready.id))?.state === 'in-use', { what: 'node in use via the pass' });
  expect(passes(daemon)).toBeLessThanOrEqual(before + 2);
  await waitFor(() => sim!.nodes().find((n) => n.name === ready.hostname)?.temporarilyOffline, { what: 'the agent taken offline' });
  await waitFor(async () => (await daemon.store.listNodes({ states: ['ready'] })).some((n) => n.id !== ready.id), { what: 'a replacement ready' });
  expect((await daemon.store.audit({ kind: 'node', objectId: ready.id })).find((a) => a.toState === 'in-use')?.reason).toMatch(/^reconcile: master runs a build on it/);

  // The build ends and onFinalized never arrives: within one pass the node is used, then deleted.
  await buildClock.advance(1000);
  await load.done;
  const ended = passes(daemon);
  await waitFor(async () => (await daemon.store.getNode(ready.id))?.state !== 'in-use', { what: 'node no longer in use' });
  expect(passes(daemon)).toBeLessThanOrEqual(ended + 2);
  await waitFor(async () => !(await daemon.store.getNode(ready.id)), { what: 'used node deleted' });
  expect(sim!.nodes().some((n) => n.name === ready.hostname)).toBe(false);
  const states = (await daemon.store.audit({ kind: 'node', objectId: ready.id })).map((a) => a.toState);
  expect(states).toEqual(expect.arrayContaining(['ready', 'in-use', 'used', 'deleting']));
  const repairs = (await daemon.metrics.targetRepairs.get()).values.map((v) => [v.labels.action, v.value]);
  expect(repairs).toEqual(expect.arrayContaining([['in-use', 1], ['used', 1]]));
  expect(sim!.builds().map((b) => b.node)).toEqual([ready.hostname]);
});

it('the start-up pass catches a build that started while the daemon was down', { timeout: 60_000 }, async () => {
  // A long interval: only the pass at start-up can see it.
  const { start } = await setUp('1h');
  let daemon = await start();
  const ready = await waitFor(async () => (await daemon.store.listNodes({ states: ['ready'] }))[0], { what: 'one ready node' });
  await daemon.stop();
  load = startLoad({ gearman: [{ host: gearmand!.host, port: gearmand!.port }], jobs: [{ name: 'unit', label: 'small' }], ratePerSecond: 100, count: 1, offlineWhenComplete: false });
  await waitFor(() => sim!.builds()[0], { what: 'the build, daemon down' });
  daemon = await start();
  await waitFor(async () => (await daemon.store.getNode(ready.id))?.state === 'in-use', { what: 'node in use via the start-up pass' });
  await waitFor(() => passes(daemon) >= 1, { what: 'the start-up pass to end' });
  expect(passes(daemon)).toBe(1);
  await waitFor(() => sim!.nodes().find((n) => n.name === ready.hostname)?.temporarilyOffline, { what: 'the agent taken offline' });
});

it('JenkinsTarget.view: absent, idle, offline and busy, each with one GET', async () => {
  gearmand = await startGearmand();
  const buildClock = new ManualClock(Date.now());
  sim = await startClockedSim(gearmand, buildClock);
  const target = new JenkinsTarget({ name: 'jenkins', url: sim.jenkinsUrl, user: 'nodepool', apikey: 'token', credentialsId: 'ssh-key', log: silentLogger });
  try {
    const gets = () => sim!.requests()['GET /computer/NAME/api/json'] ?? 0;
    const node = { hostname: 'view-1', manager: null };
    const g0 = gets();
    expect(await target.view(node)).toEqual({ present: false, busy: false, offline: false });
    expect(gets() - g0).toBe(1);
    await target.register({ name: 'view-1', host: '127.0.0.1', port: 22, description: 'd', labels: ['small'] });
    expect(await target.view(node)).toEqual({ present: true, busy: false, offline: false });
    load = startLoad({ gearman: [{ host: gearmand.host, port: gearmand.port }], jobs: [{ name: 'unit', label: 'small' }], ratePerSecond: 100, count: 1, offlineWhenComplete: false });
    await waitFor(() => sim!.builds()[0], { what: 'a build on view-1' });
    expect(await target.view(node)).toEqual({ present: true, busy: true, offline: false });
    await target.takeOffline(node, 'test');
    expect(await target.view(node)).toEqual({ present: true, busy: true, offline: true });
    await buildClock.advance(1000);
    await load.done;
    await waitFor(async () => !(await target.view(node)).busy, { what: 'build over' });
    expect(await target.view(node)).toEqual({ present: true, busy: false, offline: true });
  } finally {
    await target.close();
  }
});

it('a gap in a job\'s build numbers asks for a reconcile pass at once', { timeout: 60_000 }, async () => {
  sim = await startSimMaster({ gearman: [], user: 'nodepool', apiToken: 'token', log: silentLogger });
  h = await startPool({
    clouds: [{ name: 'cloud-a', maxServers: 1 }],
    labels: [{ name: 'small', minReady: 0, providers: ['cloud-a'] }],
    extraTop: [
      `zmq-publishers: ["${sim.zmqUrl}"]`,
      // Only the start-up pass and a gap can run one.
      'reconcile-interval: 1h',
      'targets:',
      `  - { name: jenkins, jenkins: { url: "${sim.jenkinsUrl}", user: nodepool, apikey: token, credentials-id: ssh-key } }`,
    ],
  });
  const daemon = await h.startDaemon();
  await waitFor(() => passes(daemon) >= 1, { what: 'the start-up pass' });
  const frame = (n: number) => `onFinalized ${JSON.stringify({ name: 'unit', url: 'job/unit/', build: { number: n, node_name: 'not-ours', status: 'SUCCESS' } })}`;
  // Until the subscription is live (frames sent before are lost): consecutive numbers, no gap.
  let n = 0;
  const handled = () => (daemon.health().events as { handled: number }).handled;
  await waitFor(
    async () => {
      await sim!.publish(frame(++n));
      return handled() > 0;
    },
    { what: 'the listener to handle a frame', intervalMs: 100 },
  );
  expect(passes(daemon)).toBe(1);
  // Skip two numbers (ZeroMQ keeps the order: whatever of 1..n was handled, this one jumps).
  await sim.publish(frame(n + 3));
  await waitFor(() => passes(daemon) >= 2, { what: 'a pass asked by the gap' });
});

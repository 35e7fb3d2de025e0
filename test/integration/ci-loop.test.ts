// The whole CI loop on real parts: a real gearmand, real ZeroMQ sockets, the Jenkins REST API of
// the simulated master, and two emulated clouds. Builds queue in gearmand; the daemon launches,
// registers, hears onStarted/onFinalized, replaces and deletes.
import { afterEach, expect, it } from 'vitest';
import { startGearmand, type Gearmand } from '../helpers/gearmand.js';
import { startPool, type PoolHarness } from '../helpers/pool-harness.js';
import { waitFor } from '../helpers/wait.js';
import { startSimMaster, type SimMaster } from '../../src/sim/master.js';
import { startLoad } from '../../src/sim/load.js';
import { silentLogger } from '../../src/log.js';

let gearmand: Gearmand | null = null;
let sim: SimMaster | null = null;
let h: PoolHarness | null = null;
afterEach(async () => {
  await h?.close();
  await sim?.close();
  await gearmand?.stop();
  h = sim = gearmand = null;
});

export function ciTop(g: Gearmand, s: SimMaster): string[] {
  return [
    `gearman-servers: [{ host: ${g.host}, port: ${g.port} }]`,
    `zmq-publishers: ["${s.zmqUrl}"]`,
    'demand-interval: 0.3s',
    'targets:',
    `  - { name: jenkins, jenkins: { url: "${s.jenkinsUrl}", user: nodepool, apikey: token, credentials-id: ssh-key } }`,
  ];
}

it('runs 50 builds on fresh single-use nodes through gearmand and publisher restarts', async () => {
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

  const jobs = [
    { name: 'unit', label: 'small' },
    { name: 'integration', label: 'large' },
  ];
  const finished = () => sim!.builds().filter((b) => b.result !== null).length;
  let load = startLoad({ gearman: [server], jobs, ratePerSecond: 25, count: 50 });
  // Mid-run: restart gearmand, then the publisher; the loop must carry on.
  await waitFor(() => finished() >= 12, { what: '12 builds', timeoutMs: 60_000 });
  await gearmand.restart();
  await waitFor(() => finished() >= 25, { what: '25 builds', timeoutMs: 60_000 });
  await sim.restartPublisher();
  await load.done;
  // Jobs queued in gearmand when it restarted were lost (no persistent queue): submit them again,
  // as a CI scheduler does with lost builds.
  const lost = load.outcomes().filter((o) => o.outcome !== 'complete').length;
  await load.stop();
  if (lost) {
    load = startLoad({ gearman: [server], jobs, ratePerSecond: 25, count: lost });
    await load.done;
    await load.stop();
  }
  await waitFor(() => finished() >= 50, { what: '50 finished builds', timeoutMs: 60_000 });

  const builds = sim.builds().filter((b) => b.result !== null);
  expect(builds.length).toBeGreaterThanOrEqual(50);
  // Each build on its own fresh node; no node ran two builds.
  expect(new Set(builds.map((b) => b.node)).size).toBe(builds.length);
  expect(sim.nodes().every((n) => n.buildsRun <= 1 && n.rejected === 0)).toBe(true);
  // Every used node is unregistered and deleted; the pool returns to min-ready.
  await waitFor(
    async () => {
      const nodes = await daemon.store.listNodes();
      const names = new Set(nodes.map((n) => n.hostname));
      const ready = nodes.filter((n) => n.state === 'ready');
      return builds.every((b) => !names.has(b.node)) && ready.filter((n) => n.label === 'small').length === 2 && ready.filter((n) => n.label === 'large').length === 1;
    },
    { what: 'used nodes deleted and pool back at min-ready', timeoutMs: 60_000 },
  );
  const simNames = new Set(sim.nodes().map((n) => n.name));
  expect(builds.some((b) => simNames.has(b.node))).toBe(false);
  const servers = [...h.clouds.values()].flatMap((c) => c.servers());
  const live = new Set((await daemon.store.listNodes()).map((n) => n.serverId));
  await waitFor(() => [...h!.clouds.values()].flatMap((c) => c.servers()).every((s) => live.has(s.id)), { what: 'no server without a row' });
  expect(servers.length).toBeGreaterThan(0);
});

// The CI loop with an EC2 region beside an OpenStack cloud serving one label: real gearmand,
// real ZeroMQ, the simulated Jenkins, the EC2 emulator driven by the real SDK. Every build runs
// on its own fresh node, used nodes are deleted from both clouds, and nothing leaks.
import { afterEach, expect, it } from 'vitest';
import { ciTop } from '../helpers/ci-rig.js';
import { startGearmand, type Gearmand } from '../helpers/gearmand.js';
import { startMixedPool, type MixedPoolHarness } from '../helpers/ec2-pool.js';
import { waitFor } from '../helpers/wait.js';
import { startSimMaster, type SimMaster } from '../../src/sim/master.js';
import { startLoad } from '../../src/sim/load.js';
import { silentLogger } from '../../src/log.js';

let gearmand: Gearmand | null = null;
let sim: SimMaster | null = null;
let h: MixedPoolHarness | null = null;
afterEach(async () => {
  await h?.close();
  await sim?.close();
  await gearmand?.stop();
  h = sim = gearmand = null;
});

it('runs 20 builds on fresh single-use nodes from an EC2 region and an OpenStack cloud', { timeout: 120_000 }, async () => {
  gearmand = await startGearmand();
  const server = { host: gearmand.host, port: gearmand.port };
  sim = await startSimMaster({ gearman: [server], user: 'nodepool', apiToken: 'token', buildDurationMs: 150, jobs: [{ name: 'unit', labels: ['small'] }], log: silentLogger });
  h = await startMixedPool({
    regions: [{ name: 'aws-east', maxServers: 3 }],
    clouds: [{ name: 'cloud-a', maxServers: 3 }],
    labels: [{ name: 'small', minReady: 2, providers: ['aws-east', 'cloud-a'] }],
    extraTop: ciTop(gearmand, sim),
  });
  const daemon = await h.startDaemon();
  await waitFor(async () => (await daemon.store.listNodes({ states: ['ready'] })).length === 2, { what: 'min-ready before load', timeoutMs: 30_000 });

  const load = startLoad({ gearman: [server], jobs: [{ name: 'unit', label: 'small' }], ratePerSecond: 20, count: 20 });
  await load.done;
  await load.stop();
  expect(load.outcomes().filter((o) => o.outcome !== 'complete')).toEqual([]);

  const builds = sim.builds().filter((b) => b.result !== null);
  expect(builds).toHaveLength(20);
  expect(new Set(builds.map((b) => b.node)).size).toBe(20);
  expect(sim.nodes().every((n) => n.buildsRun <= 1)).toBe(true);
  // Both clouds served builds.
  const used = builds.map((b) => b.node);
  expect(used.some((n) => n.includes('aws-east'))).toBe(true);
  expect(used.some((n) => n.includes('cloud-a'))).toBe(true);

  // Used nodes gone from the store, the master and both clouds; nothing without a row.
  await waitFor(
    async () => {
      const nodes = await daemon.store.listNodes();
      const names = new Set(nodes.map((n) => n.hostname));
      return used.every((n) => !names.has(n)) && nodes.filter((n) => n.state === 'ready').length >= 2;
    },
    { what: 'used nodes deleted and the pool back at min-ready', timeoutMs: 60_000 },
  );
  const live = new Set((await daemon.store.listNodes()).map((n) => n.serverId));
  const ec2 = h.regions.get('aws-east')!;
  await waitFor(
    () =>
      ec2.instances().filter((i) => i.state !== 'terminated' && i.state !== 'shutting-down').every((i) => live.has(i.id)) &&
      h!.clouds.get('cloud-a')!.servers().every((s) => live.has(s.id)),
    { what: 'no instance or server without a row' },
  );
});

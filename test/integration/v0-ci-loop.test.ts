// The CI loop from a Nodepool 0.x config and its secure.conf: a real gearmand, real ZeroMQ, the
// simulated Jenkins and an emulated cloud. The file is in the 0.x shape (inline credentials,
// project-id, script-dir, cron, a target whose Jenkins comes from secure.conf, 0.x's min-ready
// default); only ssh-port and demand-interval, native keys, are added for the emulator and the
// test's pace. The image has no setup script, so nodes boot the base image without a bake.
// Builds queue in gearmand; the daemon launches, registers, replaces and deletes.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
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

it('runs builds on fresh single-use nodes from a 0.x nodepool.yaml plus secure.conf', { timeout: 120_000 }, async () => {
  gearmand = await startGearmand();
  const server = { host: gearmand.host, port: gearmand.port };
  sim = await startSimMaster({ gearman: [server], user: 'nodepool', apiToken: 'sim-token', buildDurationMs: 100, jobs: [{ name: 'unit', labels: ['small'] }], log: silentLogger });
  // The harness starts the emulated cloud and writes an SSH key; the config is ours.
  h = await startPool({ clouds: [{ name: 'cloud-a', maxServers: 4 }], labels: [{ name: 'small', minReady: 0, providers: ['cloud-a'] }] });
  const cloud = h.clouds.get('cloud-a')!;
  await writeFile(
    h.configPath,
    [
      'script-dir: .',
      "dburi: 'mysql+pymysql://nodepool@localhost/nodepool'",
      'cron:',
      "  cleanup: '*/1 * * * *'",
      "  check: '*/15 * * * *'",
      "  image-update: '14 2 * * *'",
      'zmq-publishers:',
      `  - ${sim.zmqUrl}`,
      'gearman-servers:',
      `  - host: ${gearmand.host}`,
      `    port: ${gearmand.port}`,
      'demand-interval: 0.3s',
      'labels:',
      '  - name: small',
      '    image: ubuntu',
      '    providers:',
      '      - name: cloud-a',
      'providers:',
      '  - name: cloud-a',
      "    username: 'admin'",
      "    password: 'secret'",
      "    project-id: 'demo'",
      `    auth-url: '${cloud.authUrl}'`,
      '    max-servers: 4',
      '    rate: 0.01',
      `    ssh-port: ${cloud.sshPort}`,
      '    images:',
      '      - name: ubuntu',
      "        base-image: 'ubuntu-jammy'",
      '        min-ram: 2048',
      '        username: jenkins',
      `        private-key: ${h.keyPath}`,
      'targets:',
      '  - name: jenkins01',
      '',
    ].join('\n'),
  );
  const secure = join(h.dir, 'secure.conf');
  await writeFile(
    secure,
    ['[database]', 'dburi=mysql+pymysql://nodepool:db-pass@localhost/nodepool', '', '[jenkins "jenkins01"]', 'user=nodepool', 'apikey=sim-token', 'credentials=ssh-key', `url=${sim.jenkinsUrl}`, ''].join('\n'),
  );
  h.env.NODEPOOL_SECURE = secure;
  const daemon = await h.startDaemon();

  // 0.x's min-ready default (2): two nodes, registered with the Jenkins secure.conf names.
  await waitFor(async () => (await daemon.store.listNodes({ states: ['ready'] })).length === 2, { what: 'two ready nodes (0.x min-ready default)' });
  const ready = await daemon.store.listNodes({ states: ['ready'] });
  expect(ready.every((n) => n.target === 'jenkins01')).toBe(true);
  expect(new Set(sim.nodes().map((n) => n.name))).toEqual(new Set(ready.map((n) => n.hostname)));

  const load = startLoad({ gearman: [server], jobs: [{ name: 'unit', label: 'small' }], ratePerSecond: 20, count: 8 });
  try {
    await load.done;
    expect(load.outcomes().filter((o) => o.outcome !== 'complete')).toEqual([]);
  } finally {
    await load.stop();
  }
  const builds = sim.builds().filter((b) => b.result !== null);
  expect(builds).toHaveLength(8);
  // Single use: every build on its own node; each used node is unregistered and deleted.
  expect(new Set(builds.map((b) => b.node)).size).toBe(8);
  await waitFor(
    async () => {
      const names = new Set((await daemon.store.listNodes()).map((n) => n.hostname));
      const onMaster = new Set(sim!.nodes().map((n) => n.name));
      return builds.every((b) => !names.has(b.node) && !onMaster.has(b.node)) && (await daemon.store.listNodes({ states: ['ready'] })).length >= 2;
    },
    { what: 'used nodes deleted and min-ready restored', timeoutMs: 60_000 },
  );
  const live = new Set((await daemon.store.listNodes()).map((n) => n.serverId));
  await waitFor(() => cloud.servers().every((s) => live.has(s.id)), { what: 'no server without a row' });
});

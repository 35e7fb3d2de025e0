// The CI loop from a Nodepool 0.x config and its secure.conf: a real gearmand, real ZeroMQ, the
// simulated Jenkins and an emulated cloud. The file is in the 0.x shape (inline credentials,
// project-id, script-dir, cron, a target whose Jenkins comes from secure.conf, 0.x's min-ready
// default); only ssh-port and demand-interval, native keys, are added for the emulator and the
// test's pace. The image has no setup script, so nodes boot the base image without a bake.
// Builds queue in gearmand; the daemon launches, registers, replaces and deletes.
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { startGearmand, type Gearmand } from '../helpers/gearmand.js';
import { startPool, type PoolHarness } from '../helpers/pool-harness.js';
import { waitFor } from '../helpers/wait.js';
import { exited } from '../helpers/daemon-process.js';
import { startSimMaster, type SimMaster } from '../../src/sim/master.js';
import { startLoad } from '../../src/sim/load.js';
import { createLogger, silentLogger } from '../../src/log.js';

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
  const secure = await writeV0Config(h, sim, gearmand);
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

/** The 0.x nodepool.yaml (over the harness's native one) and its secure.conf; returns the secure.conf path. */
async function writeV0Config(h: PoolHarness, sim: SimMaster, gearmand: Gearmand | null, minReady?: number): Promise<string> {
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
      ...(gearmand ? ['gearman-servers:', `  - host: ${gearmand.host}`, `    port: ${gearmand.port}`] : []),
      'demand-interval: 0.3s',
      'labels:',
      '  - name: small',
      '    image: ubuntu',
      ...(minReady === undefined ? [] : [`    min-ready: ${minReady}`]),
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
  return secure;
}

it('nodepool -c 0.x.yaml -s secure.conf daemon: logs each warning once, registers through secure.conf, never logs a secret', { timeout: 60_000 }, async () => {
  sim = await startSimMaster({ gearman: [], user: 'nodepool', apiToken: 'sim-token', log: silentLogger });
  h = await startPool({ clouds: [{ name: 'cloud-a', maxServers: 2 }], labels: [{ name: 'small', minReady: 0, providers: ['cloud-a'] }] });
  const secure = await writeV0Config(h, sim, null, 1);
  const logFile = join(h.dir, 'daemon.log');
  const log = createWriteStream(logFile);
  const child = spawn(process.execPath, ['bin/nodepool.js', '--db', h.dbPath, '-c', h.configPath, '-s', secure, 'daemon', '--web-port', '0'], {
    env: { ...process.env, NODEPOOL_FROM_SOURCE: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  try {
    await waitFor(() => sim!.nodes().length === 1, { what: 'a node registered with the Jenkins of secure.conf', timeoutMs: 40_000 });
  } finally {
    child.kill('SIGTERM');
    expect(await exited(child)).toEqual({ code: 0, signal: null });
  }
  const lines = (await readFile(logFile, 'utf8')).split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg: string; config?: string; level: number });
  const warnings = lines.filter((l) => l.msg === 'config key read differently from Nodepool 0.x');
  expect(warnings.map((w) => w.config!.split(': ')[1])).toEqual(['script-dir', 'dburi', 'cron.cleanup', 'cron.check', 'providers[0].project-id', '[database] dburi']);
  expect(warnings.every((w) => w.level === 40)).toBe(true);
  const text = await readFile(logFile, 'utf8');
  for (const secret of ['db-pass', 'sim-token', "'secret'"]) expect(text).not.toContain(secret);
});

it('SIGHUP reload of a 0.x nodepool.yaml logs its warnings again, as start does', { timeout: 60_000 }, async () => {
  sim = await startSimMaster({ gearman: [], user: 'nodepool', apiToken: 'sim-token', log: silentLogger });
  h = await startPool({ clouds: [{ name: 'cloud-a', maxServers: 2 }], labels: [{ name: 'small', minReady: 0, providers: ['cloud-a'] }] });
  h.env.NODEPOOL_SECURE = await writeV0Config(h, sim, null, 0);
  const lines: { msg: string; config?: string; level: number }[] = [];
  const log = createLogger({ level: 'warn', destination: { write: (s: string) => void lines.push(JSON.parse(s) as (typeof lines)[number]) } });
  const daemon = await h.startDaemon(log);
  lines.length = 0;
  expect(await daemon.reload()).toBe(true);
  const warnings = lines.filter((l) => l.msg === 'config key read differently from Nodepool 0.x');
  expect(warnings.map((w) => w.config!.split(': ')[1])).toEqual(['script-dir', 'dburi', 'cron.cleanup', 'cron.check', 'providers[0].project-id', '[database] dburi']);
  expect(warnings.every((w) => w.level === 40)).toBe(true);
  expect(warnings.filter((w) => !w.config!.startsWith(`${h!.configPath}:`)).map((w) => w.config)).toEqual([expect.stringMatching(/secure\.conf:2:1: \[database\] dburi: ignored/)]);
  const text = JSON.stringify(lines);
  for (const secret of ['db-pass', 'sim-token', "'secret'"]) expect(text).not.toContain(secret);
});

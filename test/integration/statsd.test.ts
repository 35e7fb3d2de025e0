// statsd against a real UDP listener: Nodepool 0.x key names for gauges, launch, delete, task and
// job stats, from the reporter alone and from a daemon (config key and STATSD_HOST alike).
import { readFile, writeFile } from 'node:fs/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { markForDeletion } from '../../src/operator-actions.js';
import { silentLogger } from '../../src/log.js';
import type { NodeRecord, NodeState } from '../../src/model.js';
import { keyPart, statsdSettings, StatsdReporter } from '../../src/statsd.js';
import { poolSnapshot } from '../../src/views.js';
import { startPool, type PoolHarness } from '../helpers/pool-harness.js';
import { startUdpListener, type UdpListener } from '../helpers/udp-listener.js';
import { waitFor } from '../helpers/wait.js';

let udp: UdpListener | null = null;
let udp2: UdpListener | null = null;
let reporter: StatsdReporter | null = null;
let h: PoolHarness | null = null;
afterEach(async () => {
  vi.restoreAllMocks();
  await reporter?.close();
  await h?.close();
  await udp?.close();
  await udp2?.close();
  udp = udp2 = reporter = h = null;
});

const cfgText = `labels:
  - { name: small, image: ubuntu, min-ready: 2, target: jenkins01, providers: [{ name: cloud-a }] }
providers:
  - name: cloud-a
    auth: { auth-url: http://127.0.0.1:5000/v3, username: admin, password: secret, project-name: demo }
    max-servers: 4
    images: [{ name: ubuntu, base-image: ubuntu-jammy }]
targets:
  - { name: jenkins01, jenkins: { url: "http://127.0.0.1:8080/", user: u, apikey: k, credentials-id: c } }
`;
const cfg = parseConfig(cfgText, 'statsd.yaml', {});

function node(id: number, state: NodeState): NodeRecord {
  return {
    id, provider: 'cloud-a', label: 'small', image: 'ubuntu', target: 'jenkins01', hostname: `h${id}`, serverId: null, ip: null, az: 'nova', state,
    stateTime: 0, holdReason: null, holdExpires: null, comment: null, manager: null, launchAttempts: 1, created: 0,
  } as NodeRecord;
}

describe('statsd', () => {
  it('takes the config key, else STATSD_HOST/STATSD_PORT/STATSD_PREFIX, else nothing', () => {
    expect(statsdSettings(cfg, {})).toBeNull();
    expect(statsdSettings(cfg, { STATSD_HOST: 'stats.example.org' })).toEqual({ host: 'stats.example.org', port: 8125, prefix: '', intervalMs: 10_000 });
    expect(statsdSettings(cfg, { STATSD_HOST: 'h', STATSD_PORT: '9125', STATSD_PREFIX: 'ci' })).toMatchObject({ port: 9125, prefix: 'ci' });
    expect(() => statsdSettings(cfg, { STATSD_HOST: 'h', STATSD_PORT: 'x' })).toThrow(/STATSD_PORT/);
    const withKey = parseConfig(`statsd: { host: 127.0.0.1, prefix: ci, interval: 2s }\n${cfgText}`, 'x.yaml', {});
    // The config wins over the environment.
    expect(statsdSettings(withKey, { STATSD_HOST: 'other' })).toEqual({ host: '127.0.0.1', port: 8125, prefix: 'ci', intervalMs: 2000 });
    expect(keyPart('a.b:c|d')).toBe('a_b_c_d');
  });

  it('sends the 0.x keys: gauges per state overall, per target, label and provider, max_servers; launch, delete, task and job stats', async () => {
    udp = await startUdpListener();
    const snap = poolSnapshot(cfg, [node(1, 'ready'), node(2, 'ready'), node(3, 'building'), node(4, 'in-use')], [], null, 1000);
    reporter = new StatsdReporter({ host: '127.0.0.1', port: udp.port, prefix: '', intervalMs: 60_000, log: silentLogger, snapshot: async () => snap });
    await reporter.sendGauges();
    const n = node(5, 'building');
    reporter.launch(n, 'ready', 1234.4);
    reporter.launch({ ...n, az: null }, 'error.timeout', 10);
    reporter.deleted(n, 500);
    reporter.task('cloud-a', 'createServer', 42);
    reporter.job('unit-tests', 61_000);
    const want = [
      'nodepool.nodes.ready:2|g',
      'nodepool.nodes.building:1|g',
      'nodepool.nodes.in-use:1|g',
      'nodepool.nodes.deleting:0|g',
      'nodepool.target.jenkins01.nodes.ready:2|g',
      'nodepool.label.small.nodes.ready:2|g',
      'nodepool.label.small.nodes.in-use:1|g',
      'nodepool.provider.cloud-a.nodes.ready:2|g',
      'nodepool.provider.cloud-a.max_servers:4|g',
      'nodepool.launch.ready:1234|ms',
      'nodepool.launch.ready:1|c',
      'nodepool.launch.provider.cloud-a.ready:1|c',
      'nodepool.launch.provider.cloud-a.nova.ready:1234|ms',
      'nodepool.launch.image.ubuntu.ready:1|c',
      'nodepool.launch.target.jenkins01.ready:1|c',
      'nodepool.launch.error.timeout:10|ms',
      'nodepool.launch.provider.cloud-a.error.timeout:1|c',
      'nodepool.delete.ubuntu.cloud-a.jenkins01:500|ms',
      'nodepool.delete.ubuntu.cloud-a.jenkins01:1|c',
      'nodepool.task.cloud-a.createServer:42|ms',
      'nodepool.job.unit-tests.runtime:61000|ms',
      'nodepool.job.unit-tests.builds:1|c',
    ];
    await waitFor(() => want.every((l) => udp!.lines().includes(l)), { what: 'every statsd line' });
    // No AZ known: no AZ key.
    expect(udp.lines().filter((l) => l.startsWith('nodepool.launch.provider.cloud-a.') && l.includes('error.timeout'))).toEqual([
      'nodepool.launch.provider.cloud-a.error.timeout:10|ms',
      'nodepool.launch.provider.cloud-a.error.timeout:1|c',
    ]);
  });

  it('a daemon with `statsd:` in its config sends gauges matching the store and a launch timer per ready node, with the prefix', { timeout: 60_000 }, async () => {
    udp = await startUdpListener();
    h = await startPool({
      clouds: [{ name: 'cloud-a', maxServers: 3 }],
      labels: [{ name: 'small', minReady: 2, providers: ['cloud-a'] }],
      extraTop: [`statsd: { host: 127.0.0.1, port: ${udp.port}, prefix: ci, interval: 0.1s }`],
    });
    const daemon = await h.startDaemon();
    await waitFor(async () => (await daemon.store.listNodes({ states: ['ready'] })).length === 2, { what: 'min-ready' });
    await waitFor(() => udp!.gauges().get('ci.nodepool.label.small.nodes.ready') === 2, { what: 'the ready gauge' });
    const g = udp.gauges();
    expect([g.get('ci.nodepool.nodes.ready'), g.get('ci.nodepool.provider.cloud-a.nodes.ready'), g.get('ci.nodepool.provider.cloud-a.max_servers')]).toEqual([2, 2, 3]);
    expect(udp.lines().filter((l) => l === 'ci.nodepool.launch.provider.cloud-a.ready:1|c')).toHaveLength(2);
    expect(udp.lines().some((l) => /^ci\.nodepool\.task\.cloud-a\.createServer:\d+\|ms$/.test(l))).toBe(true);
    // The zone the emulator gave each server (on the row after the launch) is in the AZ key.
    const azs = new Set((await daemon.store.listNodes()).map((n) => n.az));
    expect(azs.has(null)).toBe(false);
    await waitFor(() => [...azs].every((az) => udp!.lines().includes(`ci.nodepool.launch.provider.cloud-a.${az}.ready:1|c`)), { what: 'the AZ launch keys' });
  });

  it('a daemon without the key uses STATSD_HOST and STATSD_PORT, as Nodepool 0.x', { timeout: 60_000 }, async () => {
    udp = await startUdpListener();
    h = await startPool({ clouds: [{ name: 'cloud-a', maxServers: 2 }], labels: [{ name: 'small', minReady: 1, providers: ['cloud-a'] }] });
    h.env.STATSD_HOST = '127.0.0.1';
    h.env.STATSD_PORT = String(udp.port);
    const daemon = await h.startDaemon();
    await waitFor(async () => (await daemon.store.listNodes({ states: ['ready'] })).length === 1, { what: 'min-ready' });
    await waitFor(() => udp!.lines().includes('nodepool.launch.ready:1|c'), { what: 'the launch counter' });
  });

  it('SIGHUP: a changed `statsd:` sends to the new address and prefix at once and closes the old client; an unchanged one is kept; removed, statsd stops', { timeout: 60_000 }, async () => {
    udp = await startUdpListener();
    udp2 = await startUdpListener();
    const [first, second] = [udp, udp2];
    h = await startPool({
      clouds: [{ name: 'cloud-a', maxServers: 2 }],
      labels: [{ name: 'small', minReady: 1, providers: ['cloud-a'] }],
      extraTop: [`statsd: { host: 127.0.0.1, port: ${first.port}, prefix: one, interval: 0.1s }`],
    });
    const daemon = await h.startDaemon();
    await waitFor(() => first.gauges().get('one.nodepool.nodes.ready') === 1, { what: 'the ready gauge on the first listener' });
    const closes = vi.spyOn(StatsdReporter.prototype, 'close');
    const original = await readFile(h.configPath, 'utf8');

    // A reload that leaves statsd alone keeps its client.
    const kept = daemon.metrics.statsd;
    await writeFile(h.configPath, `${original}\n# edited, statsd untouched\n`);
    expect(await daemon.reload()).toBe(true);
    expect(daemon.metrics.statsd).toBe(kept);
    expect(closes).not.toHaveBeenCalled();

    // Another port and prefix: the new client sends there, the old one is closed and sends nothing more.
    await writeFile(h.configPath, original.replace(`port: ${first.port}, prefix: one`, `port: ${second.port}, prefix: two`));
    expect(await daemon.reload()).toBe(true);
    expect(daemon.metrics.statsd).not.toBe(kept);
    expect(closes).toHaveBeenCalledTimes(1);
    expect(closes.mock.contexts[0]).toBe(kept);
    await waitFor(() => second.gauges().get('two.nodepool.nodes.ready') === 1, { what: 'the ready gauge on the new listener' });
    const firstLines = first.lines().length;
    // Event stats go to the new client too: a delete's timer after the node is deleted and replaced.
    const [ready] = await daemon.store.listNodes({ states: ['ready'] });
    await markForDeletion(daemon.store, ready.id);
    daemon.requestDelete(ready.id);
    await waitFor(() => second.lines().some((l) => /^two\.nodepool\.delete\.ubuntu\.cloud-a\.[^:]+:\d+\|ms$/.test(l)), { what: 'the delete timer on the new listener' });
    await waitFor(() => second.lines().includes('two.nodepool.launch.provider.cloud-a.ready:1|c'), { what: 'the replacement\'s launch counter on the new listener' });
    // Several gauge rounds later (0.1 s each, counted on the new listener), the old one got nothing more.
    const rounds = () => second.lines().filter((l) => l.startsWith('two.nodepool.nodes.ready:')).length;
    const seen = rounds();
    await waitFor(() => rounds() >= seen + 3, { what: 'three more gauge rounds' });
    expect(first.lines().length).toBe(firstLines);

    // The key removed (and no STATSD_HOST): statsd is off, the client closed.
    await writeFile(h.configPath, original.replace(/^statsd: .*\n/m, ''));
    expect(await daemon.reload()).toBe(true);
    expect(daemon.metrics.statsd).toBeNull();
    expect(closes).toHaveBeenCalledTimes(2);
  });
});

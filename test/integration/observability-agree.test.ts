// Acceptance: during the CI loop (real gearmand, simulated Jenkins with its ZeroMQ publisher, an
// emulated cloud), /metrics, /api/labels, `nodepool label-list`, the statsd gauges and the status
// page in Chromium show the same numbers at the same instant. "The same instant" is a window in
// which the store did not change: the nodes and the newest audit row are read before and after
// every source, and a round counts only when both reads are equal.
import type { Page } from 'playwright-core';
import { afterEach, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { ManualClock, systemClock } from '../../src/clock.js';
import type { Daemon } from '../../src/daemon.js';
import { startLoad } from '../../src/sim/load.js';
import type { SimMaster } from '../../src/sim/master.js';
import type { LabelView } from '../../src/views.js';
import { startWebServer, type WebServer } from '../../src/web/server.js';
import { fileBrowser } from '../helpers/chromium.js';
import { startClockedSim } from '../helpers/ci-rig.js';
import { startGearmand, type Gearmand } from '../helpers/gearmand.js';
import { startPool, type PoolHarness } from '../helpers/pool-harness.js';
import { startUdpListener, type UdpListener } from '../helpers/udp-listener.js';
import { waitFor } from '../helpers/wait.js';

const { browser } = fileBrowser();

let gearmand: Gearmand | null = null;
let sim: SimMaster | null = null;
let h: PoolHarness | null = null;
let web: WebServer | null = null;
let udp: UdpListener | null = null;
afterEach(async () => {
  await web?.close();
  await h?.close();
  await sim?.close();
  await gearmand?.stop();
  await udp?.close();
  web = h = sim = gearmand = udp = null;
});

const STATES = ['ready', 'building', 'inUse', 'used', 'hold', 'deleting'] as const;
type Counts = Record<string, Record<string, number | null>>;

class Sink {
  text = '';
  write(s: string): boolean {
    this.text += s;
    return true;
  }
}

async function storeSignature(d: Daemon): Promise<string> {
  const [nodes, audit] = await Promise.all([d.store.listNodes(), d.store.audit({ limit: 1 })]);
  return JSON.stringify([nodes.map((n) => [n.id, n.state]), audit.map((a) => a.id)]);
}

function fromLabels(labels: LabelView[], withDemand: boolean): Counts {
  return Object.fromEntries(labels.map((l) => [l.name, { ...Object.fromEntries(STATES.map((s) => [s, l[s]])), minReady: l.minReady, ...(withDemand ? { demand: l.demand } : {}) }]));
}

/** The Prometheus text as the same records: nodepool_nodes summed per label and state, plus the label gauges. */
function fromMetrics(text: string, labels: string[]): Counts {
  const out: Counts = Object.fromEntries(labels.map((l) => [l, { ...Object.fromEntries(STATES.map((s) => [s, 0])), minReady: null, demand: null }]));
  const key: Record<string, string> = { ready: 'ready', building: 'building', 'in-use': 'inUse', used: 'used', hold: 'hold', deleting: 'deleting' };
  for (const line of text.split('\n')) {
    let m = /^nodepool_nodes\{provider="[^"]*",label="([^"]+)",state="([^"]+)"\} (\d+)$/.exec(line);
    if (m && out[m[1]]) (out[m[1]][key[m[2]]] as number) += Number(m[3]);
    m = /^nodepool_label_(min_ready|demand)\{label="([^"]+)"\} (\d+)$/.exec(line);
    if (m && out[m[2]]) out[m[2]][m[1] === 'min_ready' ? 'minReady' : 'demand'] = Number(m[3]);
  }
  return out;
}

/** The statsd gauges of one batch (nodepool.label.L.nodes.STATE), as the same records. */
function fromStatsd(lines: string[], labels: string[]): Counts {
  const key: Record<string, string> = { ready: 'ready', building: 'building', 'in-use': 'inUse', used: 'used', hold: 'hold', deleting: 'deleting' };
  const out: Counts = Object.fromEntries(labels.map((l) => [l, {}]));
  for (const line of lines) {
    const m = /^nodepool\.label\.([^.]+)\.nodes\.([a-z-]+):(\d+)\|g$/.exec(line);
    if (m && out[m[1]]) out[m[1]][key[m[2]]] = Number(m[3]);
  }
  return out;
}

async function fromPage(page: Page, labels: string[]): Promise<Counts> {
  const cells = await page.$$eval('#labels td[data-field]', (tds) => tds.map((td) => [(td as HTMLElement).dataset.label!, (td as HTMLElement).dataset.field!, td.textContent ?? '']));
  const out: Counts = Object.fromEntries(labels.map((l) => [l, {}]));
  for (const [label, field, text] of cells) if (out[label] && field !== 'deficit') out[label][field] = text === '' ? null : Number(text);
  return out;
}

const pick = (c: Counts, fields: readonly string[]): Counts => Object.fromEntries(Object.entries(c).map(([l, v]) => [l, Object.fromEntries(fields.map((f) => [f, v[f]]))]));

interface Round {
  api: Counts;
}

/** One round of reads from all five sources; null when the store changed meanwhile. */
async function round(daemon: Daemon, pool: PoolHarness, url: string, page: Page | null, listener: UdpListener): Promise<Round | null> {
  const labels = daemon.config().labels.map((l) => l.name);
  const before = await storeSignature(daemon);
  const updates = page ? Number(await page.$eval('#live', (e) => (e as HTMLElement).dataset.updates ?? '0')) : 0;

  const api = fromLabels((await (await fetch(`${url}/api/labels`)).json()) as LabelView[], true);
  const metrics = fromMetrics(await (await fetch(`${url}/metrics`)).text(), labels);
  const out = new Sink();
  const err = new Sink();
  const code = await runCli(['--db', pool.dbPath, '-c', pool.configPath, 'label-list', '--json'], { out, err, env: pool.env, clock: systemClock });
  expect([code, err.text]).toEqual([0, '']);
  const cli = fromLabels(JSON.parse(out.text) as LabelView[], false);
  const text = new Sink();
  await runCli(['--db', pool.dbPath, '-c', pool.configPath, 'label-list'], { out: text, err, env: pool.env, clock: systemClock });
  const seen = listener.lines().length;
  const snap = await (daemon.metrics.statsd as unknown as { sendGauges(): Promise<unknown> }).sendGauges();
  expect(snap).not.toBeNull();
  // Gauges per state for all nodes, each target, label and provider, then max_servers per provider.
  const cfg = daemon.config();
  const gauges = 6 * (1 + cfg.targets.length + cfg.labels.length + cfg.providers.length) + cfg.providers.length;
  await waitFor(() => listener.lines().slice(seen).filter((l) => l.endsWith('|g')).length >= gauges, { what: 'the statsd batch' });
  const statsd = fromStatsd(listener.lines().slice(seen), labels);
  // Two renders after `before`: the second one's fetches started after it.
  if (page) await page.waitForFunction((n) => Number((document.querySelector('#live') as HTMLElement).dataset.updates) >= n, updates + 2);
  const shown = page ? await fromPage(page, labels) : null;

  if ((await storeSignature(daemon)) !== before) return null;
  const all = [...STATES, 'minReady'];
  expect(pick(metrics, [...all, 'demand'])).toEqual(pick(api, [...all, 'demand']));
  expect(cli).toEqual(pick(api, all));
  expect(statsd).toEqual(pick(api, STATES));
  if (shown) expect(shown).toEqual(pick(api, [...all, 'demand']));
  // The CLI's table is the --json records (label-list.ts).
  for (const l of JSON.parse(out.text) as LabelView[]) expect(text.text).toMatch(new RegExp(`^${l.name}\\s+${l.minReady}\\s+${l.ready}\\s+${l.building}\\s+${l.inUse}\\s`, 'm'));
  return { api };
}

async function agreeingRound(daemon: Daemon, pool: PoolHarness, url: string, page: Page | null, listener: UdpListener): Promise<Round> {
  return waitFor(() => round(daemon, pool, url, page, listener), { what: 'a round of reads with no store change in between', intervalMs: 50 });
}

it('during the CI loop, /metrics, /api/labels, label-list, statsd and the status page agree', { timeout: 120_000 }, async () => {
  udp = await startUdpListener();
  gearmand = await startGearmand();
  const server = { host: gearmand.host, port: gearmand.port };
  // Builds end only when this clock moves: the pool holds still in use while the sources are read.
  const buildClock = new ManualClock(Date.now());
  sim = await startClockedSim(gearmand, buildClock);
  h = await startPool({
    clouds: [{ name: 'cloud-a', maxServers: 3 }],
    labels: [
      { name: 'small', minReady: 1, providers: ['cloud-a'] },
      { name: 'large', minReady: 1, providers: ['cloud-a'] },
    ],
    extraTop: [
      `gearman-servers: [{ host: ${server.host}, port: ${server.port} }]`,
      `zmq-publishers: ["${sim.zmqUrl}"]`,
      'demand-interval: 0.2s',
      // Gauges are sent by the test (sendGauges) so that a batch belongs to one round.
      `statsd: { host: 127.0.0.1, port: ${udp.port}, interval: 1h }`,
      'targets:',
      `  - { name: jenkins, jenkins: { url: "${sim.jenkinsUrl}", user: nodepool, apikey: token, credentials-id: ssh-key } }`,
    ],
  });
  const daemon = await h.startDaemon();
  web = await startWebServer(daemon, { host: '127.0.0.1', port: 0, historyIntervalMs: 200 });
  const url = web.url;
  await waitFor(async () => (await daemon.store.listNodes({ states: ['ready'] })).length === 2, { what: 'min-ready' });

  const b = browser();
  const page = b ? await b.newPage({ viewport: { width: 1280, height: 900 } }) : null;
  const load = startLoad({ gearman: [server], jobs: [{ name: 'unit', label: 'small' }], ratePerSecond: 20, count: 4 });
  try {
    if (page) {
      await page.goto(`${url}/?interval=150`);
      await page.waitForSelector('#live[data-updates]');
    }
    // Four builds for small, three servers at most (one is large's): two run, the rest wait.
    await waitFor(async () => (await daemon.store.listNodes({ label: 'small', states: ['in-use'] })).length === 2, { what: 'two builds running' });
    await waitFor(async () => ((await (await fetch(`${url}/api/labels`)).json()) as LabelView[])[0].demand === 2, { what: 'two builds waiting (gearman demand)' });
    const busy = await agreeingRound(daemon, h, url, page, udp);
    expect(busy.api.small).toMatchObject({ inUse: 2, demand: 2, minReady: 1 });
    expect(busy.api.large).toMatchObject({ ready: 1 });

    // Let every build finish: used nodes are deleted and the pool returns to min-ready.
    await waitFor(
      async () => {
        await buildClock.advance(1000);
        return sim!.builds().filter((b) => b.result !== null).length === 4;
      },
      { what: 'all four builds', intervalMs: 100, timeoutMs: 60_000 },
    );
    await load.done;
    await waitFor(async () => (await daemon.store.listNodes()).every((n) => n.state === 'ready'), { what: 'used nodes deleted', timeoutMs: 30_000 });
    const idle = await agreeingRound(daemon, h, url, page, udp);
    expect(idle.api.small).toMatchObject({ inUse: 0, used: 0, deleting: 0, demand: 0 });
  } finally {
    await load.stop();
    await page?.close();
  }
});

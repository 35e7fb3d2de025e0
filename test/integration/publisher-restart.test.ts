// A ZeroMQ publisher restart with frames lost, on real parts: real ZeroMQ, a real gearmand, the
// simulated Jenkins and an emulated cloud. The listener's socket observer sees the publisher come
// back after a disconnect and asks a reconcile pass for that master at once, which finds the
// builds that started and ended unseen.
import { afterEach, expect, it } from 'vitest';
import { Publisher } from 'zeromq';
import { ciTop, listenerLive, startClockedSim } from '../helpers/ci-rig.js';
import { startGearmand, type Gearmand } from '../helpers/gearmand.js';
import { startPool, type PoolHarness } from '../helpers/pool-harness.js';
import { waitFor } from '../helpers/wait.js';
import { ManualClock } from '../../src/clock.js';
import type { Daemon } from '../../src/daemon.js';
import { EventCounters } from '../../src/events/counters.js';
import { EventListener, configuredUrl, type EventListenerStats } from '../../src/events/listener.js';
import { silentLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics.js';
import { startLoad, type Load } from '../../src/sim/load.js';
import type { SimMaster } from '../../src/sim/master.js';

let gearmand: Gearmand | null = null;
let sim: SimMaster | null = null;
let h: PoolHarness | null = null;
let load: Load | null = null;
const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  await load?.stop();
  await h?.close();
  await sim?.close();
  await gearmand?.stop();
  h = sim = gearmand = load = null;
});

it('configuredUrl maps an observer address back to the URL as configured', () => {
  const urls = ['tcp://localhost:8888', 'tcp://jenkins-a:9000', 'tcp://jenkins-b:9000'];
  expect(configuredUrl('tcp://localhost:8888', urls)).toBe('tcp://localhost:8888');
  // After a reconnect libzmq reports the resolved address.
  expect(configuredUrl('tcp://127.0.0.1:8888', urls)).toBe('tcp://localhost:8888');
  expect(configuredUrl('tcp://jenkins-b:9000', urls)).toBe('tcp://jenkins-b:9000');
  expect(configuredUrl('tcp://10.0.0.2:9000', urls)).toBeUndefined();
  expect(configuredUrl('tcp://127.0.0.1:1', urls)).toBeUndefined();
});

it('onReconnect: not on the first connect, once per return after a disconnect, with the configured URL', { timeout: 30_000 }, async () => {
  let pub = new Publisher({ linger: 0 });
  await pub.bind('tcp://127.0.0.1:*');
  closers.push(() => pub.close());
  const port = Number(pub.lastEndpoint!.split(':').pop());
  // A name, not the address: the observer reports 127.0.0.1 after the reconnect.
  const url = `tcp://localhost:${port}`;
  const reconnects: string[] = [];
  const got: string[] = [];
  const metrics = new Metrics();
  const reconnectSeries = async () => (await metrics.eventReconnects.get()).values.map((v) => ({ labels: v.labels, value: v.value }));
  const listener = new EventListener({ urls: [url], log: silentLogger, reconnectIntervalMs: 50, counters: new EventCounters(metrics), onEvent: (ev) => void got.push(ev.name), onReconnect: (u) => void reconnects.push(u) });
  closers.push(() => listener.close());
  const frame = (name: string) => `onStarted ${JSON.stringify({ name, url: 'job/x/', build: { number: 1, node_name: 'n' } })}`;
  let n = 0;
  await waitFor(async () => (await pub.send(frame(`first-${++n}`)), got.length > 0), { what: 'the first subscription live', intervalMs: 20 });
  expect(reconnects).toEqual([]);
  // The first connect is not a reconnect: no series yet.
  expect(await reconnectSeries()).toEqual([]);

  for (const round of [1, 2]) {
    pub.close();
    expect(listener.stats().reconnects).toBe(round - 1);
    pub = new Publisher({ linger: 0 });
    await waitFor(async () => {
      try {
        await pub.bind(`tcp://127.0.0.1:${port}`);
        return true;
      } catch {
        return false;
      }
    }, { what: 'the port bound again' });
    await waitFor(() => reconnects.length === round, { what: `reconnect ${round}` });
    const before = got.length;
    await waitFor(async () => (await pub.send(frame(`after-${round}`)), got.length > before), { what: 'frames flowing again', intervalMs: 20 });
  }
  expect(reconnects).toEqual([url, url]);
  expect(listener.stats().reconnects).toBe(2);
  // Prometheus counts the same, by the URL as configured (not the address libzmq resolved).
  expect(await reconnectSeries()).toEqual([{ labels: { publisher: url }, value: 2 }]);
});

it('reconnects are counted without an onReconnect handler too', { timeout: 30_000 }, async () => {
  let pub = new Publisher({ linger: 0 });
  await pub.bind('tcp://127.0.0.1:*');
  closers.push(() => pub.close());
  const port = Number(pub.lastEndpoint!.split(':').pop());
  const url = `tcp://127.0.0.1:${port}`;
  const metrics = new Metrics();
  const got: string[] = [];
  const listener = new EventListener({ urls: [url], log: silentLogger, reconnectIntervalMs: 50, counters: new EventCounters(metrics), onEvent: (ev) => void got.push(ev.name) });
  closers.push(() => listener.close());
  const frame = `onStarted ${JSON.stringify({ name: 'j', url: 'job/j/', build: { number: 1, node_name: 'n' } })}`;
  await waitFor(async () => (await pub.send(frame), got.length > 0), { what: 'the first subscription live', intervalMs: 20 });
  pub.close();
  pub = new Publisher({ linger: 0 });
  await waitFor(async () => {
    try {
      await pub.bind(url);
      return true;
    } catch {
      return false;
    }
  }, { what: 'the port bound again' });
  await waitFor(() => listener.stats().reconnects === 1, { what: 'the reconnect counted' });
  expect((await metrics.eventReconnects.get()).values.map((v) => ({ labels: v.labels, value: v.value }))).toEqual([{ labels: { publisher: url }, value: 1 }]);
});

async function publisherRestart(offlineWhenComplete: boolean): Promise<void> {
  gearmand = await startGearmand();
  const server = { host: gearmand.host, port: gearmand.port };
  // Builds end only when this clock is advanced: they start and end while the publisher is down.
  const buildClock = new ManualClock(Date.now());
  sim = await startClockedSim(gearmand, buildClock);
  h = await startPool({
    clouds: [{ name: 'cloud-a', maxServers: 4 }],
    labels: [{ name: 'small', minReady: 2, providers: ['cloud-a'] }],
    // Only the start-up pass and the reconnect's can run one.
    extraTop: ciTop(gearmand, sim, ['reconcile-interval: 1h']),
  });
  const daemon: Daemon = await h.startDaemon();
  const passes = () => daemon.targetReconcile.stats().passes;
  const events = () => daemon.health().events as EventListenerStats;
  await waitFor(async () => (await daemon.store.listNodes()).filter((n) => n.state === 'ready').length === 2, { what: 'min-ready 2' });
  await waitFor(() => passes() >= 1, { what: 'the start-up pass' });
  // The subscription is live before the outage (a frame for a node nobody owns).
  await listenerLive(sim, () => events().handled);
  const before = await daemon.store.listNodes({ states: ['ready'] });
  const buildEvents = async () => (await daemon.metrics.events.get()).values.filter((v) => v.labels.topic === 'onStarted' || v.labels.topic === 'onFinalized').reduce((t, v) => t + v.value, 0);

  await sim.stopPublisher();
  load = startLoad({ gearman: [server], jobs: [{ name: 'unit', label: 'small' }], ratePerSecond: 100, count: 2, offlineWhenComplete });
  await waitFor(() => sim!.builds().length === 2, { what: 'both builds started, publisher down' });
  await buildClock.advance(1000);
  await load.done;
  expect(sim.builds().every((b) => b.result === 'SUCCESS')).toBe(true);
  const used = new Set(sim.builds().map((b) => b.node));
  expect(used).toEqual(new Set(before.map((b) => b.hostname)));
  expect(sim.nodes().filter((x) => used.has(x.name)).every((x) => x.temporarilyOffline === offlineWhenComplete)).toBe(true);
  // Nothing was heard: the daemon still believes both nodes ready.
  expect(await buildEvents()).toBe(0);
  expect((await daemon.store.listNodes({ states: ['ready'] })).map((x) => x.id).sort()).toEqual(before.map((x) => x.id).sort());
  const passesBefore = passes();
  const gets = (what: string) => sim!.requests()[`GET /computer/NAME/${what}`] ?? 0;
  const [json0, rss0] = [gets('api/json'), gets('rssAll')];

  await sim.startPublisher();
  await waitFor(() => events().reconnects === 1, { what: 'the reconnect seen' });
  // /metrics says so too, by the publisher as configured.
  const scrape = await daemon.metrics.registry.metrics();
  expect(scrape).toContain(`nodepool_build_event_reconnects_total{publisher="${sim.zmqUrl}"} 1`);
  await waitFor(() => passes() > passesBefore, { what: 'the pass the reconnect asked' });
  // Its cost: one api/json per node; build history (rssAll) only for an idle agent left online.
  expect(gets('api/json') - json0).toBe(2);
  expect(gets('rssAll') - rss0).toBe(offlineWhenComplete ? 0 : 2);
  await waitFor(
    async () => {
      const nodes = await daemon.store.listNodes();
      return nodes.every((x) => !used.has(x.hostname)) && nodes.filter((x) => x.state === 'ready').length === 2 && nodes.every((x) => x.state === 'ready');
    },
    { what: 'used nodes deleted and min-ready 2 again', timeoutMs: 60_000 },
  );
  // One pass did it, asked by the reconnect (the interval is an hour; no build number was heard).
  expect(passes()).toBe(passesBefore + 1);
  const why = offlineWhenComplete ? /^reconcile: ready node offline on its master/ : /^reconcile: a build ran and ended on the ready node/;
  const reasons = (await Promise.all(before.map((b) => daemon.store.audit({ kind: 'node', objectId: b.id })))).map((rows) => rows.find((r) => r.toState === 'in-use')?.reason);
  expect(reasons).toEqual([expect.stringMatching(why), expect.stringMatching(why)]);
  expect(sim.nodes().filter((x) => used.has(x.name))).toEqual([]);
  expect(sim.nodes().every((x) => x.buildsRun <= 1)).toBe(true);
  const live = new Set((await daemon.store.listNodes()).map((x) => x.serverId));
  await waitFor(() => h!.clouds.get('cloud-a')!.servers().every((s) => live.has(s.id)), { what: 'no server without a row' });
}

it('publisher restarted with frames lost, builds that took their agent offline (OFFLINE_NODE_WHEN_COMPLETE): every used node deleted, back to min-ready, from the reconnect\'s pass', { timeout: 90_000 }, async () => {
  await publisherRestart(true);
});

it('publisher restarted with frames lost, builds that left their agent online (Jenkins\' own queue): the agents\' build history shows them used', { timeout: 90_000 }, async () => {
  await publisherRestart(false);
});

// Signals, config reload and cloud rate limiting, end to end.
import type { ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { afterEach, expect, it } from 'vitest';
import { Publisher } from 'zeromq';
import type { EventListenerStats } from '../../src/events/listener.js';
import { hostname as osHostname } from 'node:os';
import { createLogger } from '../../src/log.js';
import { startWebServer } from '../../src/web/server.js';
import { duplicateKeys } from '../helpers/json-keys.js';
import { startGearmand } from '../helpers/gearmand.js';
import { loadGearmanode } from '../../src/gearman/gearmanode.js';
import { startPool, type PoolHarness } from '../helpers/pool-harness.js';
import { waitFor } from '../helpers/wait.js';
import { exited, startDaemonProcess } from '../helpers/daemon-process.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { startOpenStackEmulator } from '../../providers/openstack/emulator/index.js';

let h: PoolHarness | null = null;
let child: ChildProcess | null = null;
afterEach(async () => {
  child?.kill('SIGKILL');
  await h?.close();
  h = child = null;
});

it('stops on SIGTERM with launches in flight: exit 0, every created server has its row', async () => {
  h = await startPool({ clouds: [{ name: 'cloud-a', maxServers: 6, bootTimeMs: 1500 }], labels: [{ name: 'small', minReady: 6, providers: ['cloud-a'] }] });
  const cloud = h.clouds.get('cloud-a')!;
  child = startDaemonProcess(h, 'daemon.log');
  await waitFor(() => cloud.servers().length >= 3, { what: 'servers being created', timeoutMs: 30_000 });
  child.kill('SIGTERM');
  expect(await exited(child)).toEqual({ code: 0, signal: null });
  const store = SqliteStore.open(h.dbPath);
  const rows = await store.listNodes();
  await store.close();
  const owned = new Set(rows.map((n) => n.serverId));
  expect(cloud.servers().length).toBeGreaterThan(0);
  expect(cloud.servers().filter((s) => !owned.has(s.id))).toEqual([]);
  expect(rows.every((n) => n.state === 'building' || n.state === 'ready')).toBe(true);
});

it('reloads its config on SIGHUP', async () => {
  h = await startPool({ clouds: [{ name: 'cloud-a', maxServers: 6 }], labels: [{ name: 'small', minReady: 1, providers: ['cloud-a'] }] });
  child = startDaemonProcess(h, 'daemon.log');
  const store = SqliteStore.open(h.dbPath);
  try {
    await waitFor(async () => (await store.listNodes({ states: ['ready'] })).length === 1, { timeoutMs: 30_000 });
    await writeFile(h.configPath, (await readFile(h.configPath, 'utf8')).replace('min-ready: 1', 'min-ready: 2'));
    child.kill('SIGHUP');
    await waitFor(async () => (await store.listNodes({ states: ['ready'] })).length === 2, { what: 'min-ready 2 after SIGHUP', timeoutMs: 30_000 });
    child.kill('SIGTERM');
    expect(await exited(child)).toEqual({ code: 0, signal: null });
  } finally {
    await store.close();
  }
});

it('reloads its config on request and keeps the running one when the new file is bad', async () => {
  h = await startPool({ clouds: [{ name: 'cloud-a', maxServers: 6 }], labels: [{ name: 'small', minReady: 1, providers: ['cloud-a'] }] });
  const daemon = await h.startDaemon();
  await waitFor(async () => (await daemon.store.listNodes({ states: ['ready'] })).length === 1);
  const good = await readFile(h.configPath, 'utf8');
  await writeFile(h.configPath, good.replace('min-ready: 1', 'min-ready: 1\n    bogus: 2'));
  expect(await daemon.reload()).toBe(false);
  expect(daemon.config().labels[0]['min-ready']).toBe(1);
  await writeFile(h.configPath, good.replace('min-ready: 1', 'min-ready: 3'));
  expect(await daemon.reload()).toBe(true);
  await waitFor(async () => (await daemon.store.listNodes({ states: ['ready'] })).length === 3, { what: 'min-ready 3 after reload' });
});

it('rides out a cloud that answers 429: retried, counted, and the pool still fills', async () => {
  h = await startPool({
    clouds: [{ name: 'cloud-a', maxServers: 8, rateLimitPerSecond: 4, settings: { rate: 0.001, 'rate-burst': 20, 'poll-interval': '0.05s' } }],
    labels: [{ name: 'small', minReady: 8, providers: ['cloud-a'] }],
  });
  const daemon = await h.startDaemon();
  await waitFor(async () => (await daemon.store.listNodes({ states: ['ready'] })).length === 8, { what: '8 ready behind a rate limit', timeoutMs: 60_000 });
  const metrics = await daemon.metrics.registry.getSingleMetricAsString('nodepool_cloud_api_calls_total');
  expect(metrics).toMatch(/outcome="rate-limited"\} [1-9]/);
  expect((await daemon.store.listNodes()).length).toBe(8);
  expect(h.clouds.get('cloud-a')!.servers().length).toBe(8);
});

it('rides out 503s and lost create answers: retried, counted, and no server leaks or doubles', async () => {
  h = await startPool({
    clouds: [{ name: 'cloud-a', maxServers: 6, apiErrorRate: 0.2, createLostAnswerRate: 1, settings: { 'poll-interval': '0.05s' } }],
    labels: [{ name: 'small', minReady: 6, providers: ['cloud-a'] }],
  });
  const daemon = await h.startDaemon();
  const cloud = h.clouds.get('cloud-a')!;
  await waitFor(async () => (await daemon.store.listNodes({ states: ['ready'] })).length === 6, { what: '6 ready behind a faulty API', timeoutMs: 60_000 });
  const metrics = await daemon.metrics.registry.getSingleMetricAsString('nodepool_cloud_api_calls_total');
  // Every create lost its answer (500 after the server was made): six at least, all recovered.
  expect(Number(/op="createServer",outcome="server-error"\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThanOrEqual(6);
  // Exactly one server per node: a create whose answer was lost was found by name, not repeated.
  const nodes = await daemon.store.listNodes();
  const servers = cloud.servers().filter((s) => !s.deleting);
  expect(servers.map((s) => s.id).sort()).toEqual(nodes.map((n) => n.serverId).sort());
});

it('starts while one cloud is down, serves the other, and uses the first once it answers', async () => {
  h = await startPool({
    clouds: [
      { name: 'cloud-a', maxServers: 1 },
      { name: 'cloud-b', maxServers: 2 },
    ],
    labels: [{ name: 'small', minReady: 2, providers: ['cloud-a', 'cloud-b'] }],
  });
  const down = h.clouds.get('cloud-b')!;
  const port = Number(new URL(down.authUrl).port);
  const sshPort = down.sshPort;
  await down.close();
  const lines: string[] = [];
  const daemon = await h.startDaemon(createLogger({ level: 'debug', destination: { write: (s: string) => void lines.push(s) } }));
  const web = await startWebServer(daemon, { host: '127.0.0.1', port: 0 });
  try {
    await waitFor(async () => (await daemon.store.listNodes({ states: ['ready'] })).length === 1, { what: 'cloud-a node' });
    expect((await daemon.store.listNodes()).map((n) => n.provider)).toEqual(['cloud-a']);
    // /health says why it is unhealthy; another failed pass does not log the outage again.
    const passes = () => lines.filter((l) => /^(cloud not reconciled|reconcile pass failed)/.test(JSON.parse(l).msg)).length;
    await waitFor(() => passes() >= 2, { what: 'a second failed reconcile pass of cloud-b' });
    const sick = await fetch(`${web.url}/health`);
    expect(sick.status).toBe(503);
    const body = (await sick.json()) as { ok: boolean; reasons: string[] };
    expect(body.ok).toBe(false);
    expect(body.reasons).toEqual([expect.stringMatching(/^provider cloud-b: cloud unreachable since \S+: .+/)]);
    expect(await daemon.metrics.registry.getSingleMetricAsString('nodepool_cloud_up')).toMatch(/provider="cloud-b"\} 0/);
    // cloud-b comes back where it was; the next cleanup pass reconciles it and launches there.
    const keys = await readFile(`${h.keyPath}.pub`, 'utf8');
    const back = await startOpenStackEmulator({ seed: 9, bootTimeMs: 100, port, sshPort, sshAuthorizedKeys: [keys] });
    h.clouds.set('cloud-b', back);
    await waitFor(async () => (await daemon.store.listNodes({ provider: 'cloud-b', states: ['ready'] })).length === 1, { what: 'cloud-b used once back', timeoutMs: 30_000 });
    const well = await fetch(`${web.url}/health`);
    expect(well.status).toBe(200);
    expect(((await well.json()) as { reasons: string[] }).reasons).toEqual([]);
    const cloudLines = lines.map((l) => JSON.parse(l) as { msg: string; provider?: string; level: number }).filter((l) => /^cloud (un)?reachable/.test(l.msg));
    expect(cloudLines.map((l) => [l.level, l.msg, l.provider])).toEqual([
      [40, 'cloud unreachable', 'cloud-b'],
      [30, 'cloud reachable again', 'cloud-b'],
    ]);
    // Every line has unique keys, and pino's `hostname` is the machine's, never a node's.
    expect(lines.flatMap((l) => duplicateKeys(l).map((k) => `${k} in ${l}`))).toEqual([]);
    const parsed = lines.map((l) => JSON.parse(l) as { hostname?: string; node_hostname?: string; msg: string });
    expect(new Set(parsed.map((l) => l.hostname))).toEqual(new Set([osHostname()]));
    expect(parsed.some((l) => l.node_hostname && l.msg === 'node -> building')).toBe(true);
  } finally {
    await web.close();
  }
});

it('/health answers 503 naming the store when the store does not answer', async () => {
  h = await startPool({ clouds: [{ name: 'cloud-a', maxServers: 1 }], labels: [{ name: 'small', minReady: 0, providers: ['cloud-a'] }] });
  const daemon = await h.startDaemon();
  const web = await startWebServer(daemon, { host: '127.0.0.1', port: 0 });
  try {
    expect((await fetch(`${web.url}/health`)).status).toBe(200);
    await daemon.store.close();
    const res = await fetch(`${web.url}/health`);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { reasons: string[] }).reasons).toEqual([expect.stringMatching(/^store: /)]);
  } finally {
    await web.close();
  }
});

it('keeps the build event counts (health and /metrics) across a reload that replaces the listener', async () => {
  const pubs = [new Publisher({ linger: 0 }), new Publisher({ linger: 0 })];
  try {
    for (const p of pubs) await p.bind('tcp://127.0.0.1:*');
    const [a, b] = pubs.map((p) => p.lastEndpoint!);
    h = await startPool({ clouds: [{ name: 'cloud-a', maxServers: 1 }], labels: [{ name: 'small', minReady: 0, providers: ['cloud-a'] }], extraTop: [`zmq-publishers: ["${a}"]`] });
    const daemon = await h.startDaemon();
    const events = () => daemon.health().events as EventListenerStats;
    // Garbage until some arrives (the subscription takes a moment to reach the publisher).
    await waitFor(async () => (await pubs[0].send('garbage!'), (events().bad.garbage ?? 0) >= 3), { what: 'garbage counted', intervalMs: 20 });
    // Frames of one publisher arrive in order: once this one is counted, no garbage is in flight.
    await pubs[0].send('onStarted not-json');
    await waitFor(() => events().bad['not-json'] === 1, { what: 'the marker frame' });
    const before = events();
    const badMetric = async () => Number(/nodepool_build_event_frames_bad_total\{reason="garbage"\} (\d+)/.exec(await daemon.metrics.registry.metrics())?.[1]);
    const receivedMetric = async () => Number(/nodepool_build_event_frames_received_total (\d+)/.exec(await daemon.metrics.registry.metrics())?.[1]);
    expect(await badMetric()).toBe(before.bad.garbage);
    expect(await receivedMetric()).toBe(before.received);

    await writeFile(h.configPath, (await readFile(h.configPath, 'utf8')).replace(`zmq-publishers: ["${a}"]`, `zmq-publishers: ["${a}", "${b}"]`));
    expect(await daemon.reload()).toBe(true);
    expect(events()).toEqual(before);
    // The new listener adds to the same counts.
    await waitFor(async () => (await pubs[1].send('onNothing {}'), (events().bad['unknown-topic'] ?? 0) >= 1), { what: 'a frame from the new publisher', intervalMs: 20 });
    await pubs[1].send('onStarted not-json');
    await waitFor(() => events().bad['not-json'] === 2, { what: 'the second marker frame' });
    const after = events();
    expect(after.bad.garbage).toBe(before.bad.garbage);
    expect(after.received).toBe(before.received + after.bad['unknown-topic'] + 1);
    expect(await receivedMetric()).toBe(after.received);
  } finally {
    for (const p of pubs) p.close();
  }
});

it('exports gearman server up (per server) and unassigned demand in /metrics', async () => {
  const g = await startGearmand();
  try {
    const client = loadGearmanode().client({ servers: [{ host: g.host, port: g.port }] });
    client.on('error', () => undefined);
    // Three builds of a job no build:JOB:LABEL function names (unassigned), one of a known label.
    await Promise.all(
      ['build:orphan', 'build:orphan', 'build:orphan', 'build:unit:small'].map(
        (fn, i) => new Promise<void>((resolve, reject) => client.submitJob(fn, `p${i}`, { background: true }).once('created', () => resolve()).once('error', reject)),
      ),
    );
    client.close();
    h = await startPool({
      clouds: [{ name: 'cloud-a', maxServers: 2 }],
      labels: [{ name: 'small', minReady: 0, providers: ['cloud-a'] }],
      extraTop: [`gearman-servers: [{ host: "${g.host}", port: ${g.port} }]`, 'demand-interval: 0.2s'],
    });
    const daemon = await h.startDaemon();
    const metric = async (name: string) => daemon.metrics.registry.getSingleMetricAsString(name);
    const server = `server="${g.host}:${g.port}"`;
    await waitFor(async () => (await metric('nodepool_demand_unassigned')).includes('nodepool_demand_unassigned 3'), { what: 'unassigned demand 3' });
    expect(await metric('nodepool_gearman_server_up')).toContain(`nodepool_gearman_server_up{${server}} 1`);
    await g.kill();
    await waitFor(async () => (await metric('nodepool_gearman_server_up')).includes(`{${server}} 0`), { what: 'gearman down' });
    expect((daemon.health().gearman as { up: boolean }[])[0].up).toBe(false);
    // (That the return is seen within one interval however long the outage is: gearman-admin.test.ts.)
    await g.restart();
    await waitFor(async () => (await metric('nodepool_gearman_server_up')).includes(`{${server}} 1`), { what: 'gearman back up' });
  } finally {
    await g.stop();
  }
});

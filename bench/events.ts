// ZeroMQ build events through the running daemon.
// 1. onStarted -> replacement: time from an onStarted frame leaving a real ZeroMQ publisher to the
//    replacement's create call reaching the cloud, over `builds` builds. Bound: 50 ms ("within
//    milliseconds", DESIGN.md), for p99.
// 2. Throughput: frames handled per second with none lost. Bound: 2,000 events/s, far above what a
//    busy Jenkins master publishes (a few per build); higher is better.
import { Publisher } from 'zeromq';
import { createServer } from 'node:net';
import { startPool } from '../test/helpers/pool-harness.js';
import { waitFor } from '../test/helpers/wait.js';
import type { BenchRow } from './report.js';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Resolves as soon as `probe` is true, checking on every turn of the event loop (sub-ms). */
function until(probe: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (probe()) return resolve();
      if (Date.now() > deadline) return reject(new Error('timed out'));
      setImmediate(tick);
    };
    tick();
  });
}

export async function benchEvents(builds: number, burst: number): Promise<BenchRow[]> {
  const port = await freePort();
  const pub = new Publisher({ sendHighWaterMark: burst * 2 });
  await pub.bind(`tcp://127.0.0.1:${port}`);
  const h = await startPool({
    clouds: [{ name: 'cloud-a', maxServers: 20, bootTimeMs: 30, quota: { instances: -1, cores: -1, ramMb: -1 } }],
    labels: [{ name: 'small', minReady: 4, providers: ['cloud-a'] }],
    extraTop: [`zmq-publishers: ["tcp://127.0.0.1:${port}"]`],
    storeWatchMs: 250,
  });
  const cloud = h.clouds.get('cloud-a')!;
  const frame = (topic: string, node: string, n: number, status?: string) =>
    `${topic} ${JSON.stringify({ name: 'bench', url: 'job/bench/', build: { full_url: `http://jenkins/job/bench/${n}/`, number: n, phase: topic === 'onStarted' ? 'STARTED' : 'FINISHED', url: `job/bench/${n}/`, node_name: node, ...(status ? { status } : {}) } })}`;
  try {
    const daemon = await h.startDaemon();
    const stats = () => daemon.health().events as { received: number; handled: number };
    // The subscription is live once a frame sent now is received.
    await waitFor(async () => {
      await pub.send(frame('onCompleted', 'nobody', 0));
      return stats().received > 0;
    }, { intervalMs: 50 });

    const creates = () => cloud.calls()['POST /compute/v2.1/servers'] ?? 0;
    const latencies: number[] = [];
    for (let i = 1; i <= builds; i++) {
      const ready = await waitFor(async () => (await daemon.store.listNodes({ states: ['ready'] }))[0], { timeoutMs: 30_000, intervalMs: 2 });
      const before = creates();
      const t0 = process.hrtime.bigint();
      await pub.send(frame('onStarted', ready.hostname, i));
      await until(() => creates() > before);
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      await pub.send(frame('onFinalized', ready.hostname, i, 'SUCCESS'));
    }
    latencies.sort((a, b) => a - b);

    // Throughput: a burst of onCompleted frames (parsed, counted, no state change).
    const start = stats().received;
    const t1 = process.hrtime.bigint();
    for (let i = 0; i < burst; i++) await pub.send(frame('onCompleted', 'nobody', i));
    let lost = 0;
    await until(() => stats().received - start >= burst, 30_000).catch(() => (lost = burst - (stats().received - start)));
    const seconds = Number(process.hrtime.bigint() - t1) / 1e9;
    await daemon.stop();
    const name = `onStarted -> replacement create (${builds} builds)`;
    return [
      { benchmark: name, metric: 'p50', value: percentile(latencies, 50), unit: 'ms', bound: 50 },
      { benchmark: name, metric: 'p99', value: percentile(latencies, 99), unit: 'ms', bound: 50 },
      { benchmark: name, metric: 'max', value: latencies[latencies.length - 1], unit: 'ms', bound: 50 },
      { benchmark: `ZeroMQ burst of ${burst} frames`, metric: 'events handled per second', value: Math.round(burst / seconds), unit: 'ev/s', bound: 2000, note: `higher is better; lost ${lost}` },
    ];
  } finally {
    pub.close();
    await h.close();
  }
}

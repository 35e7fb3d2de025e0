// Fill N ready nodes on the emulator behind a 20 req/s token bucket with a 2 s boot time,
// then delete them all. Bounds: time to fill max(N / rate, boot time); cloud API calls per node
// lifecycle (create .. gone) 2, i.e. one create and one delete, status polls amortised away.
import { SqliteStore } from '../src/store/sqlite.js';
import { startPool } from '../test/helpers/pool-harness.js';
import { waitFor } from '../test/helpers/wait.js';
import type { BenchRow } from './report.js';

export async function benchFill(n: number): Promise<BenchRow[]> {
  const ratePerSecond = 20;
  const bootMs = 2000;
  const h = await startPool({
    clouds: [
      {
        name: 'cloud-a',
        // Headroom above N so that a replacement does not wait for its predecessor's delete.
        maxServers: n + 1,
        bootTimeMs: bootMs,
        quota: { instances: -1, cores: -1, ramMb: -1 },
        settings: { rate: 1 / ratePerSecond, 'rate-burst': 1, 'max-concurrency': n, 'poll-interval': '1s', 'boot-timeout': 120 },
      },
    ],
    labels: [{ name: 'small', minReady: n, providers: ['cloud-a'] }],
    storeWatchMs: 250,
  });
  const cloud = h.clouds.get('cloud-a')!;
  try {
    const t0 = Date.now();
    const daemon = await h.startDaemon();
    await waitFor(async () => (await daemon.store.listNodes({ states: ['ready'] })).length === n, { timeoutMs: 600_000, intervalMs: 50 });
    const fillMs = Date.now() - t0;

    // A ready node deleted through the CLI: time until its replacement's create call reaches the cloud.
    const cli = SqliteStore.open(h.dbPath);
    const creates = () => cloud.calls()['POST /compute/v2.1/servers'] ?? 0;
    const before = creates();
    const victim = (await cli.listNodes({ states: ['ready'] }))[0];
    const t1 = Date.now();
    await cli.transitionNode(victim.id, 'deleting', { reason: 'bench' });
    await waitFor(() => creates() > before, { timeoutMs: 10_000, intervalMs: 1 });
    const replaceMs = Date.now() - t1;
    await waitFor(async () => (await daemon.store.listNodes({ states: ['ready'] })).length === n, { timeoutMs: 60_000 });

    // Lifecycle: count every call from the first auth to the last server gone.
    for (const node of await cli.listNodes({ states: ['ready'] })) await cli.transitionNode(node.id, 'deleting', { reason: 'bench' });
    await cli.close();
    await waitFor(() => cloud.servers().length === 0, { timeoutMs: 600_000, intervalMs: 50 });
    await daemon.stop();
    const lifecycles = n + 1;
    const calls = cloud.totalCalls();
    return [
      { benchmark: `fill ${n} nodes @${ratePerSecond} req/s`, metric: 'time to fill', value: fillMs / 1000, unit: 's', bound: Math.max(n / ratePerSecond, bootMs / 1000) },
      { benchmark: `fill ${n} nodes @${ratePerSecond} req/s`, metric: 'API calls per node lifecycle', value: calls / lifecycles, unit: 'calls', bound: 2, note: `${calls} calls / ${lifecycles} nodes` },
      { benchmark: 'replace a deleted ready node', metric: 'delete -> replacement create', value: replaceMs, unit: 'ms', bound: 1000, note: 'store watch 250 ms' },
    ];
  } finally {
    await h.close();
  }
}

// A burst of N launches on the EC2 emulator behind AWS's token buckets, with the RunInstances
// resource bucket scaled down (20 instances at once, then 5 a second) so that it binds within
// seconds. The driver declares the same figures (config `rate-limits`), so ManagedProvider paces
// launches as EC2 meters them. Bounds: throttled calls under 5% of all calls; time to fill within
// 1.15x of what the bucket allows, (N - burst) / refill + boot time. Then the pool shrinks to zero
// and every call from the daemon's start to the last instance terminated counts as lifecycle calls.
import { readFile, writeFile } from 'node:fs/promises';
import { startMixedPool } from '../test/helpers/ec2-pool.js';
import { waitFor } from '../test/helpers/wait.js';
import type { BenchRow } from './report.js';

export async function benchEc2Burst(n: number): Promise<BenchRow[]> {
  const burst = 20;
  const refill = 5;
  const bootMs = 1000;
  const h = await startMixedPool({
    regions: [
      {
        name: 'aws',
        maxServers: n,
        bootTimeMs: bootMs,
        terminateTimeMs: 500,
        // AWS's published buckets (throttle.ts), RunInstances' resource bucket scaled.
        throttle: { resourceBuckets: { RunInstances: { size: burst, refillPerSecond: refill } } },
        settings: { 'max-concurrency': n, 'poll-interval': '1s', 'boot-timeout': 120, 'launch-timeout': 600 },
        extraYaml: [`rate-limits: { run-instances-resource: { burst: ${burst}, refill: ${refill} } }`],
      },
    ],
    labels: [{ name: 'small', minReady: n, providers: ['aws'] }],
    extraTop: ['surplus-grace: 1s'],
    storeWatchMs: 250,
  });
  const emu = h.regions.get('aws')!;
  try {
    const t0 = Date.now();
    const daemon = await h.startDaemon();
    await waitFor(async () => (await daemon.store.listNodes({ states: ['ready'] })).length === n, { timeoutMs: 600_000, intervalMs: 50 });
    const fillMs = Date.now() - t0;
    const launches = emu.instances().map((i) => i.launchTime - t0);
    const firstLaunchMs = Math.min(...launches);
    const lastLaunchMs = Math.max(...launches);
    const fillCalls = emu.totalCalls();
    const fillThrottled = Object.values(emu.throttled()).reduce((a, b) => a + b, 0);

    // The pool shrinks to nothing: every node is surplus, deleted after the grace.
    await writeFile(h.configPath, (await readFile(h.configPath, 'utf8')).replace(`min-ready: ${n}`, 'min-ready: 0'));
    await daemon.reload();
    await waitFor(async () => (await daemon.store.listNodes()).length === 0 && emu.instances().every((i) => i.state === 'terminated'), { timeoutMs: 600_000, intervalMs: 50 });
    await daemon.stop();
    const calls = emu.calls();
    const total = emu.totalCalls();
    const throttled = Object.values(emu.throttled()).reduce((a, b) => a + b, 0);
    // What EC2's bucket allows: a full burst at once, then the refill (the driver keeps one token of headroom within this).
    const bound = (n - burst) / refill + bootMs / 1000;
    const byAction = Object.entries(calls)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    const name = `EC2 burst ${n} launches, RunInstances ${burst} + ${refill}/s`;
    return [
      { benchmark: name, metric: 'time to fill', value: fillMs / 1000, unit: 's', bound, note: `(N - ${burst}) / ${refill}/s + ${bootMs / 1000} s boot; launches from ${(firstLaunchMs / 1000).toFixed(2)} s to ${(lastLaunchMs / 1000).toFixed(2)} s` },
      { benchmark: name, metric: 'throttled calls (fill)', value: (100 * fillThrottled) / fillCalls, unit: '%', bound: 5, note: `${fillThrottled} of ${fillCalls}` },
      { benchmark: name, metric: 'throttled calls (lifecycle)', value: (100 * throttled) / total, unit: '%', bound: 5, note: `${throttled} of ${total}` },
      { benchmark: name, metric: 'API calls per node lifecycle', value: total / n, unit: 'calls', bound: 2, note: byAction },
    ];
  } finally {
    await h.close();
  }
}

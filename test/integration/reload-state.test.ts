// A reload replaces what the config describes and keeps what the daemon has learnt: the quota
// estimate of a provider whose settings changed survives, so the planner does not over-launch
// until the next cleanup pass.
import { readFile, writeFile } from 'node:fs/promises';
import { afterEach, expect, it } from 'vitest';
import { startPool, type PoolHarness } from '../helpers/pool-harness.js';
import { waitFor } from '../helpers/wait.js';

let h: PoolHarness | null = null;
afterEach(async () => {
  await h?.close();
  h = null;
});

const cloudLimit = (h: PoolHarness) => (h.daemon!.health().providers['cloud-a'] as { cloudLimit: number | null }).cloudLimit;

it('keeps the quota estimate of a provider whose config changed across a reload', async () => {
  h = await startPool({
    clouds: [{ name: 'cloud-a', maxServers: 10, quota: { instances: 3 } }],
    labels: [{ name: 'small', minReady: 2, providers: ['cloud-a'] }],
    extraTop: ['cleanup-interval: 1h'],
  });
  // extraTop comes first; the harness's own cleanup-interval line must not win.
  await writeFile(h.configPath, (await readFile(h.configPath, 'utf8')).replace('cleanup-interval: 1s\n', ''));
  const daemon = await h.startDaemon();
  // Start-up recovery read the quota: 3 instances.
  expect(cloudLimit(h)).toBe(3);
  await waitFor(async () => (await daemon.store.listNodes({ states: ['ready'] })).length === 2, { what: 'min-ready 2' });
  const text = await readFile(h.configPath, 'utf8');
  await writeFile(h.configPath, text.replace('rate: 0.01', 'rate: 0.02').replace('min-ready: 2', 'min-ready: 6'));
  expect(await daemon.reload()).toBe(true);
  expect(daemon.config().providers[0].rate).toBe(0.02);
  // No cleanup pass runs for an hour: only the kept estimate stops the planner at the quota.
  expect(cloudLimit(h)).toBe(3);
  await waitFor(async () => (await daemon.store.listNodes({ states: ['ready'] })).length === 3, { what: 'the third node' });
  const cloud = h.clouds.get('cloud-a')!;
  // Give the planner a few more runs: it must not try past the quota (a refused create would show as an API error).
  for (let i = 0; i < 5; i++) daemon.requestPlan('test');
  await waitFor(async () => (await daemon.store.listNodes()).every((n) => n.state === 'ready'), { what: 'no launch in flight' });
  expect(cloud.servers().length).toBe(3);
  const calls = await daemon.metrics.registry.getSingleMetricAsString('nodepool_cloud_api_calls_total');
  expect(calls).not.toMatch(/outcome="quota"/);
});

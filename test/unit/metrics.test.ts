// Metrics: pool gauges read from the store at scrape time (current after any transition, no
// planner run needed), image age and last bake from the images table, and the event methods.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { parseConfig } from '../../src/config.js';
import { Metrics } from '../../src/metrics.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import type { LiveFigures } from '../../src/views.js';

const cfg = parseConfig(
  `labels:
  - { name: small, image: ubuntu, min-ready: 2, providers: [{ name: cloud-a }] }
providers:
  - name: cloud-a
    auth: { auth-url: http://127.0.0.1:5000/v3, username: admin, password: secret, project-name: demo }
    max-servers: 4
    images: [{ name: ubuntu, base-image: ubuntu-jammy }, { name: centos, base-image: centos-9 }]
`,
  'metrics.yaml',
  {},
);

const DAY = 86_400_000;
let clock: ManualClock;
let store: SqliteStore;
let metrics: Metrics;
const live: LiveFigures = { demand: { small: 3 }, providers: { 'cloud-a': { limits: { instances: 10, cores: 40, ramMb: 2048 }, launching: 1, queued: 0, reconciled: true } } };

beforeEach(() => {
  clock = new ManualClock(Date.UTC(2026, 0, 10));
  store = SqliteStore.open(':memory:', { clock });
  metrics = new Metrics();
  metrics.bind({ store, clock, config: () => cfg, poolView: () => live });
});
afterEach(async () => {
  await metrics.close();
  await store.close();
});

async function value(name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const m = metrics.registry.getSingleMetric(name);
  const got = await m!.get();
  return got.values.find((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))?.value;
}

describe('Metrics.refresh (scrape time)', () => {
  it('nodepool_nodes follows a transition made by anyone, with zeros for every configured label and state', async () => {
    const node = await store.createNode({ provider: 'cloud-a', label: 'small', image: 'ubuntu', target: '' });
    await metrics.refresh();
    expect(await value('nodepool_nodes', { state: 'building' })).toBe(1);
    expect(await value('nodepool_nodes', { state: 'ready' })).toBe(0);
    // Another process (the CLI) moves the node: the next scrape sees it, no planner involved.
    await store.transitionNode(node.id, 'ready');
    const text = await metrics.scrape();
    expect(text).toContain('nodepool_nodes{provider="cloud-a",label="small",state="ready"} 1');
    expect(text).toContain('nodepool_nodes{provider="cloud-a",label="small",state="building"} 0');
    expect(text).toMatch(/^process_cpu_seconds_total /m);
  });

  it('labels and providers: min-ready, ready, demand, deficit, max-servers, servers, capacity, quota in base units, launches', async () => {
    await store.transitionNode((await store.createNode({ provider: 'cloud-a', label: 'small', image: 'ubuntu', target: '' })).id, 'ready');
    await metrics.refresh();
    expect([await value('nodepool_label_min_ready'), await value('nodepool_label_ready_nodes'), await value('nodepool_label_demand'), await value('nodepool_label_deficit')]).toEqual([2, 1, 3, 4]);
    expect([await value('nodepool_provider_max_servers'), await value('nodepool_provider_servers'), await value('nodepool_provider_capacity'), await value('nodepool_provider_launches_in_flight')]).toEqual([4, 1, 3, 1]);
    expect(await value('nodepool_provider_quota', { resource: 'ram_bytes' })).toBe(2048 * 1024 * 1024);
    expect(await value('nodepool_provider_quota', { resource: 'instances' })).toBe(10);
  });

  it('image age from the newest ready row, last bake result and time from the newest ready or failed row', async () => {
    const old = await store.createImage({ provider: 'cloud-a', image: 'ubuntu', version: '1' });
    await store.transitionImage(old.id, 'ready');
    await clock.advance(DAY);
    const current = await store.createImage({ provider: 'cloud-a', image: 'ubuntu', version: '2' });
    await clock.advance(60_000);
    await store.transitionImage(current.id, 'ready');
    await clock.advance(DAY);
    const failed = await store.createImage({ provider: 'cloud-a', image: 'ubuntu', version: '3' });
    await clock.advance(120_000);
    await store.transitionImage(failed.id, 'failed', { reason: 'setup exited 1', patch: { reason: 'setup exited 1' } });
    await clock.advance(1000);
    await metrics.refresh();
    const ubuntu = { provider: 'cloud-a', image: 'ubuntu' };
    expect(await value('nodepool_image_age_seconds', ubuntu)).toBe((DAY + 120_000 + 1000) / 1000 + 60);
    expect(await value('nodepool_image_last_build_success', ubuntu)).toBe(0);
    expect(await value('nodepool_image_last_build_timestamp_seconds', ubuntu)).toBe((clock.now() - 1000) / 1000);
    // No image row yet for centos: no series (absent, not 0).
    expect(await value('nodepool_image_age_seconds', { image: 'centos' })).toBeUndefined();
    // A new good bake flips the result.
    const next = await store.createImage({ provider: 'cloud-a', image: 'ubuntu', version: '4' });
    await store.transitionImage(next.id, 'ready');
    await metrics.refresh();
    expect([await value('nodepool_image_last_build_success', ubuntu), await value('nodepool_image_age_seconds', ubuntu)]).toEqual([1, 0]);
  });
});

describe('Metrics event methods', () => {
  it('a launch attempt: counter by outcome, failures by reason, duration by result', async () => {
    const node = { provider: 'cloud-a', label: 'small', az: null, image: 'ubuntu', target: '', created: clock.now() };
    await clock.advance(42_000);
    metrics.launchEnded(node, 'ready');
    metrics.launchEnded(node, 'timeout');
    expect(await value('nodepool_launch_total', { outcome: 'timeout' })).toBe(1);
    expect(await value('nodepool_launch_failures_total', { reason: 'timeout' })).toBe(1);
    const h = await metrics.launchSeconds.get();
    expect(h.values.find((v) => v.metricName === 'nodepool_launch_duration_seconds_sum' && v.labels.result === 'ready')?.value).toBe(42);
  });

  it('API calls with latency, rate-limit waits in seconds, registrations and gearman polls', async () => {
    metrics.apiCall('cloud-a', 'createServer', 'ok', 250);
    metrics.rateLimited('cloud-a', 1500);
    metrics.rateLimited('cloud-a', 0);
    metrics.registration('jenkins01', 'ok');
    metrics.gearmanPolled('g:4730', false);
    expect(await value('nodepool_cloud_api_calls_total', { op: 'createServer' })).toBe(1);
    const h = await metrics.apiSeconds.get();
    expect(h.values.find((v) => v.metricName === 'nodepool_cloud_api_call_duration_seconds_sum')?.value).toBe(0.25);
    expect(await value('nodepool_cloud_rate_limit_wait_seconds_total')).toBe(1.5);
    expect(await value('nodepool_target_registrations_total', { outcome: 'ok' })).toBe(1);
    expect([await value('nodepool_gearman_server_up'), await value('nodepool_gearman_polls_total', { outcome: 'error' })]).toEqual([0, 1]);
  });
});

// The register step of a launch: retried on the same server, a timed-out assign written down
// for a revoke, and no re-boot when no worker can take the node.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { parseConfig, type Config } from '../../src/config.js';
import { TargetError } from '../../src/errors.js';
import { Launcher } from '../../src/launcher.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { RegisterTimeoutError, type Target, type TargetNode } from '../../src/targets/target.js';
import { ManagedProvider } from '../../providers/managed-provider.js';
import type { ProviderDriver } from '../../providers/provider.js';
import { fakeDriver, testContext, testRuntime } from '../helpers/pool-context.js';

const T0 = 1_700_000_000_000;

describe('launch: register step', () => {
  let clock: ManualClock;
  let store: SqliteStore;
  beforeEach(() => {
    clock = new ManualClock(T0);
    store = SqliteStore.open(':memory:', { clock });
  });
  afterEach(async () => {
    await store.close();
  });

  function setup(register: (n: TargetNode, call: number) => Promise<{ manager?: string }>, available?: () => boolean) {
    const cfg: Config = parseConfig(
      [
        'providers:',
        '  - name: fake',
        '    auth: { auth-url: "http://127.0.0.1:1/v3", username: u, password: p, project-name: x }',
        '    max-servers: 5',
        '    launch-timeout: 3600',
        '    launch-retries: 5',
        '    poll-interval: 1s',
        '    images: [{ name: base, base-image: base, host-key-checking: false }]',
        'labels: [{ name: small, image: base, providers: [{ name: fake }] }]',
      ].join('\n'),
      'test.yaml',
    );
    const driver = fakeDriver(clock, 0);
    let creates = 0;
    const counted: ProviderDriver = { ...driver, createServer: (req) => (creates++, driver.createServer(req)) };
    const api = new ManagedProvider(counted, { clock, rateSeconds: 0.001, burst: 100, pollIntervalMs: 1000 });
    const rt = testRuntime(cfg.providers[0], api);
    let calls = 0;
    const target: Target = {
      name: 'zuul',
      register: (n) => register(n, ++calls),
      unregister: async () => undefined,
      exists: async () => true,
      close: async () => undefined,
      ...(available ? { available } : {}),
    };
    const ctx = testContext({ store, clock, config: cfg }, { provider: () => rt, target: (name) => (name === 'zuul' ? target : undefined) });
    return { launcher: new Launcher(ctx), api, creates: () => creates, calls: () => calls };
  }

  async function advanceUntil(done: () => Promise<boolean>, limitMs: number, stepMs = 500): Promise<boolean> {
    const start = clock.now();
    while (clock.now() - start < limitMs) {
      if (await done()) return true;
      await clock.advance(stepMs);
      await new Promise((r) => setImmediate(r));
    }
    return done();
  }

  it('a timed-out assign is retried on the same server, and a revoke is written down for whoever took the late reply', async () => {
    const { launcher, api, creates, calls } = setup(async (_n, call) => {
      if (call === 1) throw new RegisterTimeoutError('node_assign:zuul: no reply within 30000ms');
      return { manager: 'mgr-2' };
    });
    const node = await store.createNode({ provider: 'fake', label: 'small', image: 'base', target: 'zuul' });
    const task = launcher.launch(node, new AbortController().signal);
    expect(await advanceUntil(async () => (await store.getNode(node.id))?.state === 'ready', 60_000)).toBe(true);
    await task;
    const row = (await store.getNode(node.id))!;
    expect(row).toMatchObject({ manager: 'mgr-2', launchAttempts: 1 });
    expect(creates()).toBe(1);
    expect(calls()).toBe(2);
    expect(await store.listPendingUnregisters()).toMatchObject([{ target: 'zuul', hostname: node.hostname, manager: null, nodeId: node.id }]);
    await api.close();
  });

  it('gives up after the tries without re-booting when no worker can take the node', async () => {
    const { launcher, api, creates, calls } = setup(async () => {
      throw new TargetError('node_assign:zuul: no manager has a worker for it on any gearman server', true);
    }, () => false);
    const node = await store.createNode({ provider: 'fake', label: 'small', image: 'base', target: 'zuul' });
    const task = launcher.launch(node, new AbortController().signal);
    expect(await advanceUntil(async () => (await store.getNode(node.id))?.state === 'deleting', 300_000)).toBe(true);
    await task;
    expect(calls()).toBe(5);
    expect(creates()).toBe(1);
    expect((await store.getNode(node.id))?.comment).toMatch(/no worker can take nodes of target zuul/);
    await api.close();
  });

  it('a final target error is not retried', async () => {
    const { launcher, api, creates, calls } = setup(async () => {
      throw new TargetError('node_assign:zuul: the worker reported failure (WORK_FAIL)', false);
    });
    const node = await store.createNode({ provider: 'fake', label: 'small', image: 'base', target: 'zuul' });
    const task = launcher.launch(node, new AbortController().signal);
    expect(await advanceUntil(async () => (await store.getNode(node.id))?.state === 'deleting', 60_000)).toBe(true);
    await task;
    expect(calls()).toBe(1);
    expect(creates()).toBe(1);
    await api.close();
  });
});

// The launch deadline: `launch-timeout` covers a launch that is running (every attempt and step),
// and `boot-timeout` is one budget for ACTIVE plus SSH, not one each.
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import ssh2 from 'ssh2';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { parseConfig, type Config } from '../../src/config.js';
import { Launcher } from '../../src/launcher.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { ManagedProvider } from '../../providers/managed-provider.js';
import { fakeDriver, testContext, testRuntime } from '../helpers/pool-context.js';

const T0 = 1_700_000_000_000;

describe('launch deadline', () => {
  let clock: ManualClock;
  let store: SqliteStore;
  let sshPort: number;

  beforeEach(async () => {
    clock = new ManualClock(T0);
    store = SqliteStore.open(':memory:', { clock });
    // A port nobody listens on: every SSH attempt is refused at once, so only the clock decides.
    const probe: Server = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    sshPort = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
  });

  afterEach(async () => {
    await store.close();
  });

  function setup(settings: { bootTimeout: number; launchTimeout: number; activeAfterMs: number }) {
    const cfg: Config = parseConfig(
      [
        'providers:',
        '  - name: fake',
        '    auth: { auth-url: "http://127.0.0.1:1/v3", username: u, password: p, project-name: x }',
        '    max-servers: 5',
        `    boot-timeout: ${settings.bootTimeout}`,
        `    launch-timeout: ${settings.launchTimeout}`,
        '    launch-retries: 5',
        '    poll-interval: 1s',
        `    ssh-port: ${sshPort}`,
        '    images: [{ name: base, base-image: base }]',
        'labels: [{ name: small, image: base, providers: [{ name: fake }] }]',
      ].join('\n'),
      'test.yaml',
    );
    const driver = fakeDriver(clock, settings.activeAfterMs);
    const api = new ManagedProvider(driver, { clock, rateSeconds: 0.001, burst: 100, pollIntervalMs: 1000 });
    const rt = testRuntime(cfg.providers[0], api);
    const key = ssh2.utils.generateKeyPairSync('ecdsa', { bits: 256 }).private;
    const ended: string[] = [];
    const ctx = testContext(
      { store, clock, config: cfg },
      { provider: () => rt, readKey: async () => Buffer.from(key), launchEnded: (_node, outcome) => void ended.push(outcome) },
    );
    return { launcher: new Launcher(ctx), api, ended };
  }

  /** Advances the manual clock in steps until `done` holds or `limitMs` has passed; returns the time taken. */
  async function advanceUntil(done: () => Promise<boolean>, limitMs: number, stepMs = 250): Promise<number> {
    const start = clock.now();
    while (clock.now() - start < limitMs) {
      if (await done()) return clock.now() - start;
      await clock.advance(stepMs);
      // Real I/O (an SSH connect, refused) needs a little real time to happen.
      await new Promise((r) => setTimeout(r, 2));
    }
    return Infinity;
  }

  it('ends a running launch at launch-timeout even while a step (waiting for ACTIVE) has a longer budget', async () => {
    const { launcher, api, ended } = setup({ bootTimeout: 600, launchTimeout: 30, activeAfterMs: Infinity });
    const node = await store.createNode({ provider: 'fake', label: 'small', image: 'base', target: '' });
    const task = launcher.launch(node, new AbortController().signal);
    const took = await advanceUntil(async () => (await store.getNode(node.id))?.state === 'deleting', 120_000);
    await task;
    expect(took).toBeLessThanOrEqual(31_000);
    const row = await store.getNode(node.id);
    expect(row?.comment).toMatch(/launch-timeout/);
    expect(ended).toEqual(['failed']);
    await api.close();
  });

  it('gives ACTIVE and SSH one boot-timeout between them', async () => {
    // ACTIVE after 8 s of a 10 s boot-timeout; SSH never answers. The attempt must fail at about
    // 10 s, not at 8 s + 10 s.
    const { launcher, api } = setup({ bootTimeout: 10, launchTimeout: 3600, activeAfterMs: 8000 });
    const node = await store.createNode({ provider: 'fake', label: 'small', image: 'base', target: '' });
    const shutdown = new AbortController();
    const task = launcher.launch(node, shutdown.signal);
    // The second attempt starts once the first has failed and its server is gone (one 1 s poll).
    const took = await advanceUntil(async () => ((await store.getNode(node.id))?.launchAttempts ?? 0) >= 2, 60_000);
    expect(took).toBeGreaterThanOrEqual(10_000);
    expect(took).toBeLessThan(14_000);
    shutdown.abort(new Error('test over'));
    await task;
    await api.close();
  });
});

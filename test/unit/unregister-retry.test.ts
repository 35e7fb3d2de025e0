// Target removals are written ahead, retried until acknowledged, and never keep a VM alive.
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { parseConfig } from '../../src/config.js';
import { Deleter } from '../../src/deleter.js';
import type { NodeRecord } from '../../src/model.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import type { Target } from '../../src/targets/target.js';
import { UnregisterRetry, unregisterBackoffMs } from '../../src/unregister-retry.js';
import { testContext } from '../helpers/pool-context.js';

const T0 = 1_700_000_000_000;
const cfg = parseConfig(
  `labels: [{ name: small, image: ubuntu, providers: [{ name: cloud-a }] }]
providers:
  - name: cloud-a
    auth: { auth-url: "http://127.0.0.1:5000/v3", username: a, password: b, project-name: c }
    max-servers: 2
    images: [{ name: ubuntu, base-image: jammy }]
`,
  'u.yaml',
  {},
);

let store: SqliteStore;
afterEach(async () => {
  await store?.close();
});

function setup() {
  const clock = new ManualClock(T0);
  store = SqliteStore.open(':memory:', { clock });
  const calls: { hostname: string; manager: string | null }[] = [];
  const state = { down: true };
  const target: Target = {
    name: 'zuul',
    register: async () => ({}),
    unregister: async (n) => {
      calls.push({ hostname: n.hostname, manager: n.manager });
      if (state.down) throw new Error('master down');
    },
    exists: async () => true,
    close: async () => undefined,
  };
  const ctx = testContext(
    { store, clock, config: cfg },
    { target: (name) => (name === 'zuul' ? target : undefined), readKey: () => Promise.reject(new Error('no keys')) },
  );

  return { clock, calls, state, ctx };
}

async function deletingNode(): Promise<NodeRecord> {
  const n = await store.createNode({ provider: 'cloud-a', label: 'small', image: 'ubuntu', target: 'zuul' });
  await store.transitionNode(n.id, 'ready', { reason: 'test', patch: { manager: 'mgr-1' } });
  return store.transitionNode(n.id, 'deleting', { reason: 'test' });
}

describe('pending unregisters', () => {
  it('a master that is down does not keep the node: the revoke is recorded, deferred and retried until acknowledged', async () => {
    const { clock, calls, state, ctx } = setup();
    const node = await deletingNode();
    await new Deleter(ctx).delete(node);
    expect(await store.getNode(node.id)).toBeUndefined();
    const [pending] = await store.listPendingUnregisters();
    expect(pending).toMatchObject({ target: 'zuul', hostname: node.hostname, manager: 'mgr-1', attempts: 1, lastError: 'master down', nextTry: T0 + unregisterBackoffMs(1) });

    const retry = new UnregisterRetry(ctx);
    await retry.pass(); // not due yet
    expect(calls).toHaveLength(1);
    await clock.advance(unregisterBackoffMs(1));
    await retry.pass(); // still down: deferred longer
    expect(calls).toHaveLength(2);
    expect((await store.listPendingUnregisters())[0]).toMatchObject({ attempts: 2, nextTry: clock.now() + unregisterBackoffMs(2) });

    state.down = false;
    await clock.advance(unregisterBackoffMs(2));
    await retry.pass();
    expect(calls.map((c) => c.manager)).toEqual(['mgr-1', 'mgr-1', 'mgr-1']);
    expect(await store.listPendingUnregisters()).toEqual([]);
  });

  it('is written ahead: recorded before the target is asked', async () => {
    const { ctx, state } = setup();
    state.down = false;
    const node = await deletingNode();
    const seen: number[] = [];
    const t = ctx.target('zuul')!;
    const orig = t.unregister.bind(t);
    t.unregister = async (n) => {
      seen.push((await store.listPendingUnregisters()).length);
      return orig(n);
    };
    await new Deleter(ctx).delete(node);
    expect(seen).toEqual([1]);
    expect(await store.listPendingUnregisters()).toEqual([]);
  });

  it('backs off 5 s doubling, capped at 10 min', () => {
    expect([1, 2, 3, 20].map(unregisterBackoffMs)).toEqual([5000, 10_000, 20_000, 600_000]);
  });
});

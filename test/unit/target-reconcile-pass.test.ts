// TargetReconcilePass over a real in-memory SQLite store and a fake target whose view the test
// sets: which repairs it applies, what it wakes, one view per node per pass, no overlap.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BuildEventHandler } from '../../src/build-events.js';
import { ManualClock } from '../../src/clock.js';
import type { PoolContext } from '../../src/context.js';
import type { NodeRecord, NodeState } from '../../src/model.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import type { MasterNodeView } from '../../src/target-reconcile.js';
import { TargetReconcilePass } from '../../src/target-reconcile-pass.js';
import { fakeTarget, minimalConfig, testContext } from '../helpers/pool-context.js';

const T0 = 1_700_000_000_000;
const GRACE = 30_000;

const config = minimalConfig();

let clock: ManualClock;
let store: SqliteStore;
let ctx: PoolContext;
let pass: TargetReconcilePass;
let views: Map<string, MasterNodeView | Error>;
let viewCalls: string[];
let offline: { hostname: string; cause: string | undefined }[];
let plans: string[];
let deletes: number[];
/** When set, view() waits on it (to hold a pass open). */
let gate: Promise<void> | null;

beforeEach(() => {
  clock = new ManualClock(T0);
  store = SqliteStore.open(':memory:', { clock });
  views = new Map();
  viewCalls = [];
  offline = [];
  plans = [];
  deletes = [];
  gate = null;
  const target = fakeTarget('jenkins1', {
    takeOffline: async (node, _reason, cause) => void offline.push({ hostname: node.hostname, cause }),
    view: async (node) => {
      viewCalls.push(node.hostname);
      if (gate) await gate;
      const v = views.get(node.hostname) ?? { present: true, busy: false, offline: false };
      if (v instanceof Error) throw v;
      return v;
    },
  });
  const noView = fakeTarget('gearman1');
  ctx = testContext(
    { store, clock, config },
    {
      target: (name) => (name === 'jenkins1' ? target : name === 'gearman1' ? noView : undefined),
      requestPlan: (reason) => void plans.push(reason),
      requestDelete: (id) => void deletes.push(id),
    },
  );
  pass = new TargetReconcilePass(ctx, { graceMs: GRACE });
});

afterEach(async () => {
  await pass.close();
  await store.close();
});

async function nodeIn(state: NodeState, target = 'jenkins1'): Promise<NodeRecord> {
  const n = await store.createNode({ provider: 'cloud-a', label: 'small', image: 'ubuntu', target });
  let cur = await store.transitionNode(n.id, 'ready', { reason: 'test: ready' });
  if (state === 'in-use' || state === 'used') cur = await store.transitionNode(n.id, 'in-use', { reason: 'test: in use' });
  if (state === 'used') cur = await store.transitionNode(n.id, 'used', { reason: 'test: used' });
  if (state === 'hold') cur = await store.transitionNode(n.id, 'hold', { reason: 'test: hold' });
  return cur;
}

const stateOf = async (id: number) => (await store.getNode(id))!.state;

async function repairs(action: string): Promise<number> {
  const m = await ctx.metrics.targetRepairs.get();
  return m.values.find((v) => v.labels.target === 'jenkins1' && v.labels.action === action)?.value ?? 0;
}

describe('TargetReconcilePass', () => {
  it('puts a ready node the master runs a build on in use, wakes the planner and takes it offline', async () => {
    const n = await nodeIn('ready');
    views.set(n.hostname, { present: true, busy: true, offline: false });
    const stats = await pass.pass();
    expect(await stateOf(n.id)).toBe('in-use');
    expect(plans).toContain('reconcile');
    expect(offline).toEqual([{ hostname: n.hostname, cause: 'build-started' }]);
    expect(await repairs('in-use')).toBe(1);
    expect(stats).toEqual({ nodes: 1, views: 1, failed: 0, skipped: 0, repairs: 1 });
    const audit = (await store.audit({ kind: 'node', objectId: n.id })).at(-1)!;
    expect(audit.reason).toMatch(/^reconcile: master runs a build on it/);
  });

  it('deletes an in-use node idle and offline after its grace (onFinalized lost), but not before', async () => {
    const n = await nodeIn('in-use');
    views.set(n.hostname, { present: true, busy: false, offline: true });
    await clock.advance(GRACE - 1);
    await pass.pass();
    expect(await stateOf(n.id)).toBe('in-use');
    await clock.advance(1);
    await pass.pass();
    expect(await stateOf(n.id)).toBe('deleting');
    expect(deletes).toEqual([n.id]);
    expect(await repairs('used')).toBe(1);
    const states = (await store.audit({ kind: 'node', objectId: n.id })).map((a) => a.toState);
    expect(states.slice(-2)).toEqual(['used', 'deleting']);
  });

  it('deletes a ready node its master lost', async () => {
    const n = await nodeIn('ready');
    views.set(n.hostname, { present: false, busy: false, offline: false });
    await pass.pass();
    expect(await stateOf(n.id)).toBe('deleting');
    expect(deletes).toEqual([n.id]);
    expect(await repairs('delete')).toBe(1);
  });

  it('leaves healthy nodes, other states and targets without a view alone; one view per node per pass', async () => {
    const ready = await nodeIn('ready');
    const busy = await nodeIn('in-use');
    views.set(busy.hostname, { present: true, busy: true, offline: true });
    await nodeIn('hold');
    await nodeIn('used');
    await nodeIn('ready', 'gearman1');
    await clock.advance(GRACE * 10);
    const stats = await pass.pass();
    expect(stats).toEqual({ nodes: 2, views: 2, failed: 0, skipped: 0, repairs: 0 });
    expect(viewCalls.sort()).toEqual([ready.hostname, busy.hostname].sort());
    expect(await stateOf(ready.id)).toBe('ready');
    expect(await stateOf(busy.id)).toBe('in-use');
  });

  it('a failing view leaves the node for the next pass and the others are still checked', async () => {
    const a = await nodeIn('ready');
    const b = await nodeIn('ready');
    views.set(a.hostname, new Error('master down'));
    views.set(b.hostname, { present: true, busy: true, offline: false });
    const stats = await pass.pass();
    expect(stats).toMatchObject({ views: 2, failed: 1, repairs: 1 });
    expect(await stateOf(a.id)).toBe('ready');
    expect(await stateOf(b.id)).toBe('in-use');
  });

  it('an event that moved the node first wins the compare-and-set', async () => {
    const n = await nodeIn('ready');
    views.set(n.hostname, { present: true, busy: true, offline: false });
    let open!: () => void;
    gate = new Promise((r) => (open = r));
    const running = pass.pass();
    await new Promise((r) => setImmediate(r));
    // onStarted, then onFinalized, arrive while the view is in flight.
    await store.transitionNode(n.id, 'in-use', { from: ['ready'], reason: 'onStarted' });
    await store.transitionNode(n.id, 'used', { reason: 'onFinalized' });
    open();
    const stats = await running;
    expect(stats.repairs).toBe(0);
    expect(await stateOf(n.id)).toBe('used');
    expect(offline).toEqual([]);
  });

  it('passes never overlap: requests during a pass collapse into one more pass', async () => {
    await nodeIn('ready');
    let open!: () => void;
    gate = new Promise((r) => (open = r));
    const first = pass.pass();
    await new Promise((r) => setImmediate(r));
    pass.request('a');
    pass.request('b');
    const second = pass.pass();
    expect(viewCalls).toHaveLength(1);
    open();
    await Promise.all([first, second]);
    expect(pass.stats().passes).toBe(2);
    expect(viewCalls).toHaveLength(2);
  });
});

describe('BuildEventHandler build-number gaps', () => {
  it('reports a job whose build number jumps by more than one, not a first event or a late one', async () => {
    const gaps: [string, number, number][] = [];
    const handler = new BuildEventHandler(ctx, { onBuildGap: (job, last, seen) => void gaps.push([job, last, seen]) });
    const ev = (name: string, number: number, topic = 'onStarted') => ({ topic, name, build: { number, node_name: 'nobody' } });
    await handler.handle(ev('unit', 5));
    await handler.handle(ev('unit', 6));
    await handler.handle(ev('unit', 5, 'onFinalized'));
    await handler.handle(ev('other', 1));
    expect(gaps).toEqual([]);
    await handler.handle(ev('unit', 9));
    expect(gaps).toEqual([['unit', 6, 9]]);
  });
});

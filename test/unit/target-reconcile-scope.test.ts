// The reconcile rules added for lost builds seen only afterwards (a ready node offline on its
// master, a manager that counts builds), passes scoped to the targets a request names, and which
// targets a ZeroMQ publisher speaks for.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import type { PoolContext } from '../../src/context.js';
import type { NodeRecord } from '../../src/model.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { decideTargetRepair, publisherTargets, type MasterNodeView } from '../../src/target-reconcile.js';
import { TargetReconcilePass } from '../../src/target-reconcile-pass.js';
import { fakeTarget, minimalConfig, testContext } from '../helpers/pool-context.js';

const view = (v: Partial<MasterNodeView>): MasterNodeView => ({ present: true, busy: false, offline: false, ...v });
const decide = (state: string, v: Partial<MasterNodeView>, stateAgeMs = 60_000) => decideTargetRepair({ state, view: view(v), stateAgeMs, graceMs: 30_000 });

describe('decideTargetRepair, builds seen afterwards', () => {
  it('a ready node offline on its master, or with a build that ended, is used; a busy one is in use', () => {
    expect(decide('ready', { offline: true })).toMatchObject({ action: 'used', why: expect.stringMatching(/^ready node offline on its master/) });
    expect(decide('ready', { builds: 1 })).toMatchObject({ action: 'used', why: expect.stringMatching(/^a build ran and ended/) });
    expect(decide('ready', { busy: true, offline: true, builds: 1 }).action).toBe('in-use');
    expect(decide('ready', { builds: 0 }).action).toBe('none');
  });

  it('an in-use node idle with a build counted is used, after the grace only', () => {
    expect(decide('in-use', { builds: 1 }).action).toBe('used');
    expect(decide('in-use', { builds: 1 }, 10_000).action).toBe('none');
    expect(decide('in-use', { builds: 0 }).action).toBe('none');
  });
});

describe('publisherTargets', () => {
  const targets = [
    { name: 'a', jenkins: { url: 'https://Jenkins-A.example.org/ci/' } },
    { name: 'a2', jenkins: { url: 'http://jenkins-a.example.org:8080/' } },
    { name: 'b', jenkins: { url: 'https://jenkins-b.example.org/' } },
    { name: 'zuul' },
  ];
  it('names the Jenkins targets on the publisher host, else none (all)', () => {
    expect(publisherTargets('tcp://jenkins-a.example.org:8888', targets)).toEqual(['a', 'a2']);
    expect(publisherTargets('tcp://jenkins-b.example.org:8888', targets)).toEqual(['b']);
    expect(publisherTargets('tcp://10.1.2.3:8888', targets)).toBeUndefined();
  });
});

describe('TargetReconcilePass scope', () => {
  let clock: ManualClock;
  let store: SqliteStore;
  let ctx: PoolContext;
  let pass: TargetReconcilePass;
  let asked: string[];
  let plans: string[];
  let deletes: number[];
  /** When set, views wait on it (to hold a pass open). */
  let gate: Promise<void> | null;

  beforeEach(() => {
    clock = new ManualClock(1_700_000_000_000);
    store = SqliteStore.open(':memory:', { clock });
    asked = [];
    plans = [];
    deletes = [];
    gate = null;
    const views: Record<string, MasterNodeView | null> = {};
    const target = (name: string) =>
      fakeTarget(name, {
        view: async (node) => {
          asked.push(`${name}/${node.hostname}`);
          if (gate) await gate;
          return views[node.hostname] ?? (name === 'quiet' ? null : { present: true, busy: false, offline: true });
        },
      });
    const targets = new Map(['t1', 't2', 'quiet'].map((n) => [n, target(n)]));
    ctx = testContext(
      { store, clock, config: minimalConfig() },
      { target: (name) => targets.get(name), requestPlan: (r) => void plans.push(r), requestDelete: (id) => void deletes.push(id) },
    );
    pass = new TargetReconcilePass(ctx, { graceMs: 0 });
  });

  afterEach(async () => {
    await pass.close();
    await store.close();
  });

  async function ready(target: string): Promise<NodeRecord> {
    const n = await store.createNode({ provider: 'cloud-a', label: 'small', image: 'ubuntu', target });
    return store.transitionNode(n.id, 'ready', { reason: 'test' });
  }

  it('a request naming a target checks only its nodes; a ready node offline there goes ready -> in-use -> used -> deleting and is replaced', async () => {
    const a = await ready('t1');
    const b = await ready('t2');
    pass.request('reconnect', ['t1']);
    await pass.idle();
    expect(asked).toEqual([`t1/${a.hostname}`]);
    expect((await store.getNode(a.id))!.state).toBe('deleting');
    expect((await store.getNode(b.id))!.state).toBe('ready');
    expect((await store.audit({ kind: 'node', objectId: a.id })).map((r) => r.toState).slice(-3)).toEqual(['in-use', 'used', 'deleting']);
    expect(deletes).toEqual([a.id]);
    expect(plans).toContain('reconcile');
  });

  it('requests during a pass collapse into one more over the union of their targets; one naming none covers all', async () => {
    const a = await ready('t1');
    const b = await ready('t2');
    const c = await ready('quiet');
    let open!: () => void;
    gate = new Promise((r) => (open = r));
    pass.request('x', ['t1']);
    await new Promise((r) => setImmediate(r));
    expect(asked).toEqual([`t1/${a.hostname}`]);
    pass.request('y', ['t2']);
    pass.request('z', ['quiet']);
    open();
    gate = null;
    await pass.idle();
    expect(pass.stats().passes).toBe(2);
    expect(asked.slice(1).sort()).toEqual([`quiet/${c.hostname}`, `t2/${b.hostname}`].sort());
    // quiet answers null: skipped, untouched.
    expect(pass.stats()).toMatchObject({ nodes: 2, views: 2, skipped: 1, repairs: 1 });
    expect((await store.getNode(c.id))!.state).toBe('ready');

    // A request naming no target covers every target's nodes.
    const d = await ready('t1');
    asked = [];
    pass.request('start');
    await pass.idle();
    expect(asked.sort()).toEqual([`quiet/${c.hostname}`, `t1/${d.hostname}`].sort());
  });
});

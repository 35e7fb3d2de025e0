// BuildEventHandler over a real in-memory SQLite store: what each ZMQ build event does to a node's
// state, its audit trail, the metrics and the planner/deleter wake-ups.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BuildEventHandler, type BuildEventFields } from '../../src/build-events.js';
import { ManualClock } from '../../src/clock.js';
import type { Config } from '../../src/config.js';
import type { PoolContext } from '../../src/context.js';
import { silentLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics.js';
import type { NodeRecord, NodeState } from '../../src/model.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { HoldOffline } from '../../src/hold-offline.js';
import { fakeTarget, minimalConfig } from '../helpers/pool-context.js';

const T0 = 1_700_000_000_000;

/** Smallest valid config plus the jobs section under test. */
const config = (jobs = ''): Config => minimalConfig(jobs);

const HOLD_INTEGRATION = `jobs:
  - name: integration
    hold-on-failure: 1
`;

interface Harness {
  handler: BuildEventHandler;
  store: SqliteStore;
  metrics: Metrics;
  clock: ManualClock;
  /** Reasons passed to requestPlan, with the node state the store held at that moment. */
  plans: { reason: string; settled: boolean; stateThen: Promise<NodeState | undefined> }[];
  deletes: number[];
  /** Whether the handle() call in flight has resolved; requestPlan records it. */
  settled: boolean;
  watch: number | null;
  /** takeOffline calls on the target "jenkins1", with the plans requested before each. */
  offline: { hostname: string; reason: string; cause: string | undefined; plansBefore: number }[];
  /** When set, takeOffline rejects with it. */
  offlineError: Error | null;
  ctx: PoolContext;
}

let h: Harness;

function setup(cfg: Config): Harness {
  const clock = new ManualClock(T0);
  const store = SqliteStore.open(':memory:', { clock });
  const metrics = new Metrics();
  const harness: Harness = { handler: undefined as unknown as BuildEventHandler, store, metrics, clock, plans: [], deletes: [], settled: true, watch: null, offline: [], offlineError: null, ctx: undefined as unknown as PoolContext };
  const target = fakeTarget('jenkins1', {
    takeOffline: async (node, reason, cause) => {
      if (harness.offlineError) throw harness.offlineError;
      harness.offline.push({ hostname: node.hostname, reason, cause, plansBefore: harness.plans.length });
    },
  });
  const ctx: PoolContext = {
    deploymentId: 'test',
    store,
    clock,
    log: silentLogger,
    metrics,
    config: () => cfg,
    provider: () => undefined,
    target: (name) => (name === 'jenkins1' ? target : undefined),
    readKey: () => Promise.reject(new Error('no keys in this test')),
    launchEnded: () => undefined,
    requestPlan: (reason) => {
      // SqliteStore reads synchronously when called, so this captures the state at this moment.
      const id = harness.watch;
      const stateThen = id === null ? Promise.resolve(undefined) : store.getNode(id).then((n) => n?.state);
      harness.plans.push({ reason, settled: harness.settled, stateThen });
    },
    requestDelete: (nodeId) => harness.deletes.push(nodeId),
  };
  harness.handler = new BuildEventHandler(ctx);
  harness.ctx = ctx;
  return harness;
}

async function handle(ev: BuildEventFields): Promise<void> {
  h.settled = false;
  try {
    await h.handler.handle(ev);
  } finally {
    h.settled = true;
  }
}

async function nodeIn(state: NodeState): Promise<NodeRecord> {
  const n = await h.store.createNode({ provider: 'cloud-a', label: 'small', image: 'ubuntu', target: 'jenkins1' });
  if (state === 'building') return n;
  await h.clock.advance(1000);
  let cur = await h.store.transitionNode(n.id, 'ready', { reason: 'test: ready' });
  if (state === 'hold') return h.store.transitionNode(n.id, 'hold', { reason: 'test: operator hold', patch: { holdReason: 'operator', comment: 'keep' } });
  if (state === 'in-use' || state === 'used') cur = await h.store.transitionNode(n.id, 'in-use', { reason: 'test: in use' });
  if (state === 'used') cur = await h.store.transitionNode(n.id, 'used', { reason: 'test: used' });
  return cur;
}

function ev(topic: string, node: string, extra: { job?: string; number?: number; status?: string | null } = {}): BuildEventFields {
  const job = extra.job ?? 'integration';
  const number = extra.number ?? 7;
  return {
    topic,
    name: job,
    build: { number, node_name: node, status: extra.status, full_url: `http://jenkins.example.org/job/${job}/${number}/` },
  };
}

async function eventCount(topic: string, outcome: string): Promise<number> {
  const m = await h.metrics.events.get();
  return m.values.find((v) => v.labels.topic === topic && v.labels.outcome === outcome)?.value ?? 0;
}

async function stateOf(id: number): Promise<NodeRecord> {
  const n = await h.store.getNode(id);
  expect(n).toBeDefined();
  return n!;
}

async function trail(id: number): Promise<string[]> {
  return (await h.store.audit({ kind: 'node', objectId: id })).map((r) => `${r.fromState ?? '-'} -> ${r.toState}`);
}

afterEach(async () => {
  await h?.store.close();
});

describe('BuildEventHandler', () => {
  describe('without job rules', () => {
    beforeEach(() => {
      h = setup(config());
    });

    it('onStarted on a ready node: in-use, and the planner is woken before the handler returns', async () => {
      const n = await nodeIn('ready');
      h.watch = n.id;
      await h.clock.advance(5000);
      await handle(ev('onStarted', n.hostname));
      const after = await stateOf(n.id);
      expect(after.state).toBe('in-use');
      expect(after.stateTime).toBe(T0 + 6000);
      expect(h.plans).toHaveLength(1);
      expect(h.plans[0].reason).toBe('onStarted');
      expect(h.plans[0].settled).toBe(false);
      // The transition was committed before the wake-up, so the planner sees the node gone from supply.
      expect(await h.plans[0].stateThen).toBe('in-use');
      expect(h.deletes).toEqual([]);
      expect(await eventCount('onStarted', 'ok')).toBe(1);
      expect((await h.store.audit({ kind: 'node', objectId: n.id })).at(-1)).toMatchObject({ fromState: 'ready', toState: 'in-use', reason: 'integration #7 started' });
    });

    it('onStarted takes the agent offline in its target (single use), after waking the planner', async () => {
      const n = await nodeIn('ready');
      await handle(ev('onStarted', n.hostname, { number: 9 }));
      expect(h.offline).toEqual([{ hostname: n.hostname, reason: 'nodepool: single use, integration #9 started', cause: 'build-started', plansBefore: 1 }]);
    });

    it('onStarted on a node that is not ready (held) still takes it offline', async () => {
      const n = await nodeIn('hold');
      await handle(ev('onStarted', n.hostname));
      expect((await stateOf(n.id)).state).toBe('hold');
      expect(h.offline.map((o) => o.hostname)).toEqual([n.hostname]);
    });

    it('a target that cannot take the node offline is logged and counted, and the node is in use anyway', async () => {
      const n = await nodeIn('ready');
      h.offlineError = new Error('master down');
      await expect(handle(ev('onStarted', n.hostname))).resolves.toBeUndefined();
      expect((await stateOf(n.id)).state).toBe('in-use');
      const errs = await h.metrics.errors.get();
      expect(errs.values.find((v) => v.labels.component === 'target')?.value).toBe(1);
    });

    it('an operator hold (a store change) takes the node offline once; a failed try is repeated on the next pass', async () => {
      const watcher = new HoldOffline(h.ctx);
      const n = await nodeIn('hold');
      await nodeIn('ready');
      h.offlineError = new Error('master down');
      await watcher.pass();
      expect(h.offline).toEqual([]);
      h.offlineError = null;
      await watcher.pass();
      await watcher.pass();
      expect(h.offline.map((o) => [o.hostname, o.reason, o.cause])).toEqual([[n.hostname, 'nodepool: held: keep', 'hold']]);
    });

    it('onStarted for a node we do not own is counted, not thrown', async () => {
      const n = await nodeIn('ready');
      await expect(handle(ev('onStarted', 'master-node-42'))).resolves.toBeUndefined();
      expect(await eventCount('onStarted', 'unknown-node')).toBe(1);
      expect(await eventCount('onStarted', 'ok')).toBe(0);
      expect(h.plans).toEqual([]);
      expect((await stateOf(n.id)).state).toBe('ready');
    });

    it('onStarted on a held node keeps it held', async () => {
      const n = await nodeIn('hold');
      await handle(ev('onStarted', n.hostname));
      const after = await stateOf(n.id);
      expect(after).toMatchObject({ state: 'hold', holdReason: 'operator', comment: 'keep' });
      expect(h.plans).toEqual([]);
      expect(await eventCount('onStarted', 'in-state-hold')).toBe(1);
    });

    it('onCompleted changes nothing', async () => {
      const n = await nodeIn('in-use');
      const before = await trail(n.id);
      await handle(ev('onCompleted', n.hostname, { status: 'SUCCESS' }));
      expect((await stateOf(n.id)).state).toBe('in-use');
      expect(await trail(n.id)).toEqual(before);
      expect(h.plans).toEqual([]);
      expect(h.deletes).toEqual([]);
      expect(await eventCount('onCompleted', 'ignored')).toBe(1);
    });

    it('onFinalized SUCCESS: used, then deleting, handed to the deleter', async () => {
      const n = await nodeIn('in-use');
      await handle(ev('onFinalized', n.hostname, { status: 'SUCCESS' }));
      expect((await stateOf(n.id)).state).toBe('deleting');
      expect((await trail(n.id)).slice(-2)).toEqual(['in-use -> used', 'used -> deleting']);
      expect(h.deletes).toEqual([n.id]);
      expect(await eventCount('onFinalized', 'ok')).toBe(1);
    });

    it('onFinalized after a missed onStarted: in-use, used and deleting, all in the audit', async () => {
      const n = await nodeIn('ready');
      await handle(ev('onFinalized', n.hostname, { status: 'SUCCESS', number: 12 }));
      expect((await stateOf(n.id)).state).toBe('deleting');
      const rows = await h.store.audit({ kind: 'node', objectId: n.id });
      expect(rows.slice(-3).map((r) => [r.fromState, r.toState])).toEqual([
        ['ready', 'in-use'],
        ['in-use', 'used'],
        ['used', 'deleting'],
      ]);
      expect(rows.at(-3)!.reason).toMatch(/integration #12 SUCCESS.*onStarted missed/);
      expect(h.deletes).toEqual([n.id]);
    });

    it('a FAILURE of a job with no rule is deleted, not held', async () => {
      const n = await nodeIn('in-use');
      await handle(ev('onFinalized', n.hostname, { status: 'FAILURE' }));
      expect((await stateOf(n.id)).state).toBe('deleting');
      expect(h.deletes).toEqual([n.id]);
    });
  });

  describe('hold-on-failure', () => {
    it('holds a node whose build failed, naming job and build number', async () => {
      h = setup(config(HOLD_INTEGRATION));
      const n = await nodeIn('in-use');
      await handle(ev('onFinalized', n.hostname, { status: 'FAILURE', number: 31 }));
      const after = await stateOf(n.id);
      expect(after.state).toBe('hold');
      expect(after.holdReason).toBeTruthy();
      expect(after.holdReason).toContain('integration');
      expect(after.comment).toContain('integration');
      expect(after.comment).toContain('#31');
      expect(after.comment).toContain('FAILURE');
      expect((await trail(n.id)).slice(-2)).toEqual(['in-use -> used', 'used -> hold']);
      expect(h.deletes).toEqual([]);
      // Held means out of the schedulable set too, even if onStarted was missed.
      expect(h.offline.map((o) => o.hostname)).toEqual([n.hostname]);
      expect(h.offline[0].reason).toContain('held: integration #31 FAILURE');
      expect(h.offline[0].cause).toBe('hold');
      expect(await eventCount('onFinalized', 'held')).toBe(1);
    });

    it('holds at most N: a second failure of the same job while the first is held is deleted', async () => {
      h = setup(config(HOLD_INTEGRATION));
      const first = await nodeIn('in-use');
      const second = await nodeIn('in-use');
      await handle(ev('onFinalized', first.hostname, { status: 'FAILURE', number: 1 }));
      await handle(ev('onFinalized', second.hostname, { status: 'FAILURE', number: 2 }));
      expect((await stateOf(first.id)).state).toBe('hold');
      const other = await stateOf(second.id);
      expect(other.state).toBe('deleting');
      expect(other.holdReason).toBeNull();
      expect(h.deletes).toEqual([second.id]);
    });

    it('matches a job name given as a regular expression', async () => {
      h = setup(config(`jobs:\n  - name: 'integ.*'\n    hold-on-failure: 1\n`));
      const n = await nodeIn('in-use');
      await handle(ev('onFinalized', n.hostname, { job: 'integration-mysql', status: 'FAILURE', number: 4 }));
      const after = await stateOf(n.id);
      expect(after.state).toBe('hold');
      expect(after.comment).toContain('integration-mysql');
      expect(after.comment).toContain('#4');
      // Anchored at both ends: a job that merely contains the pattern is not held.
      const m = await nodeIn('in-use');
      await handle(ev('onFinalized', m.hostname, { job: 'pre-integration', status: 'FAILURE' }));
      expect((await stateOf(m.id)).state).toBe('deleting');
    });

    it('a rule stored with job-create holds too, and comes before the config\'s rule for the same job', async () => {
      h = setup(config(`jobs:\n  - name: 'integ.*'\n    hold-on-failure: 0\n`));
      await h.store.createJob('integration', 1);
      const n = await nodeIn('in-use');
      await handle(ev('onFinalized', n.hostname, { job: 'integration', status: 'FAILURE', number: 7 }));
      expect((await stateOf(n.id)).state).toBe('hold');
      // Other jobs still follow the config's rule (no hold).
      const m = await nodeIn('in-use');
      await handle(ev('onFinalized', m.hostname, { job: 'integration-mysql', status: 'FAILURE' }));
      expect((await stateOf(m.id)).state).toBe('deleting');
    });

    it('never holds a successful build', async () => {
      h = setup(config(HOLD_INTEGRATION));
      const n = await nodeIn('in-use');
      await handle(ev('onFinalized', n.hostname, { status: 'SUCCESS' }));
      expect((await stateOf(n.id)).state).toBe('deleting');
      expect(h.deletes).toEqual([n.id]);
      expect(await eventCount('onFinalized', 'held')).toBe(0);
    });
  });
});

// The Store contract: every implementation (SQLite, PostgreSQL, ...) runs this same suite.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { InvalidTransitionError, NotInStoreError } from '../../src/errors.js';
import { nodeHostname, type NewNode } from '../../src/model.js';
import type { Store } from '../../src/store/store.js';

export interface StoreContractContext {
  /** The clock the store must take its times from. */
  clock: ManualClock;
}

export interface StoreContractHooks {
  /**
   * A second, independent connection to the same database as `first` (what another process,
   * such as the CLI, would open). Without it the changeMarker test is skipped.
   */
  reopen?: (first: Store, ctx: StoreContractContext) => Promise<Store>;
}

const T0 = 1_700_000_000_000;
const NEW: NewNode = { provider: 'cloud-a', label: 'trusty', image: 'trusty-img', target: 'jenkins1' };

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected the promise to reject');
}

export function defineStoreContract(
  name: string,
  factory: (ctx: StoreContractContext) => Promise<Store>,
  hooks: StoreContractHooks = {},
): void {
  describe(`Store contract: ${name}`, () => {
    let ctx: StoreContractContext;
    let store: Store;
    const extra: Store[] = [];

    beforeEach(async () => {
      ctx = { clock: new ManualClock(T0) };
      store = await factory(ctx);
    });

    afterEach(async () => {
      for (const s of extra.splice(0)) await s.close();
      await store.close();
    });

    describe('nodes', () => {
      it('creates a building node with its hostname derived from its id, timed by the clock', async () => {
        const node = await store.createNode(NEW);
        expect(node).toEqual({
          id: node.id,
          ...NEW,
          hostname: nodeHostname(NEW.label, NEW.provider, node.id),
          serverId: null,
          ip: null,
          az: null,
          state: 'building',
          stateTime: T0,
          holdReason: null,
          holdExpires: null,
          comment: null,
          manager: null,
          launchAttempts: 0,
          created: T0,
          imageId: null,
          imageVersion: null,
        });
        expect(await store.getNode(node.id)).toEqual(node);
        expect(await store.getNodeByHostname(node.hostname)).toEqual(node);
      });

      it('gives every node a distinct id and hostname, never reusing a removed one', async () => {
        const a = await store.createNode(NEW);
        const b = await store.createNode(NEW);
        await store.transitionNode(b.id, 'deleting');
        await store.removeNode(b.id);
        const c = await store.createNode(NEW);
        const ids = [a.id, b.id, c.id];
        expect(new Set(ids).size).toBe(3);
        expect(c.id).toBeGreaterThan(b.id);
        expect(new Set([a.hostname, b.hostname, c.hostname]).size).toBe(3);
      });

      it('refuses to give two nodes the same hostname', async () => {
        const a = await store.createNode(NEW);
        const b = await store.createNode(NEW);
        await expect(store.updateNode(b.id, { hostname: a.hostname })).rejects.toThrow();
        expect((await store.getNode(b.id))?.hostname).toBe(b.hostname);
      });

      it('answers undefined for unknown ids and hostnames', async () => {
        expect(await store.getNode(9999)).toBeUndefined();
        expect(await store.getNodeByHostname('nope-cloud-1')).toBeUndefined();
      });

      it('lists nodes by id, filtered by provider, label and states', async () => {
        const a = await store.createNode(NEW);
        const b = await store.createNode({ ...NEW, provider: 'cloud-b' });
        const c = await store.createNode({ ...NEW, label: 'xenial' });
        await store.transitionNode(c.id, 'ready');
        const ids = async (f?: Parameters<Store['listNodes']>[0]) => (await store.listNodes(f)).map((n) => n.id);
        expect(await ids()).toEqual([a.id, b.id, c.id]);
        expect(await ids({ provider: 'cloud-a' })).toEqual([a.id, c.id]);
        expect(await ids({ label: 'xenial' })).toEqual([c.id]);
        expect(await ids({ states: ['ready'] })).toEqual([c.id]);
        expect(await ids({ states: ['building', 'ready'] })).toEqual([a.id, b.id, c.id]);
        expect(await ids({ provider: 'cloud-a', states: ['building'] })).toEqual([a.id]);
        expect(await ids({ states: [] })).toEqual([]);
        expect(await ids({ provider: 'none' })).toEqual([]);
      });

      it('updates fields without touching the state', async () => {
        const node = await store.createNode(NEW);
        await ctx.clock.advance(5000);
        const updated = await store.updateNode(node.id, { serverId: 'srv-1', ip: '10.0.0.5', az: 'nova', launchAttempts: 2, comment: undefined });
        expect(updated).toMatchObject({ serverId: 'srv-1', ip: '10.0.0.5', az: 'nova', launchAttempts: 2, state: 'building', stateTime: T0, comment: null });
        expect(await store.getNode(node.id)).toEqual(updated);
        const cleared = await store.updateNode(node.id, { ip: null, manager: 'zuul-1' });
        expect(cleared).toMatchObject({ ip: null, manager: 'zuul-1', serverId: 'srv-1' });
        expect(await store.updateNode(node.id, {})).toEqual(cleared);
      });

      it('finds nodes by server id through listNodes after an update', async () => {
        const node = await store.createNode(NEW);
        await store.updateNode(node.id, { serverId: 'abc' });
        expect((await store.listNodes()).find((n) => n.serverId === 'abc')?.id).toBe(node.id);
      });

      it('throws NotInStoreError when updating a missing node', async () => {
        expect(await rejection(store.updateNode(4242, { ip: '1.2.3.4' }))).toBeInstanceOf(NotInStoreError);
      });

      it('moves a node through an allowed transition with its patch and an audit row', async () => {
        const node = await store.createNode(NEW);
        await ctx.clock.advance(60_000);
        const ready = await store.transitionNode(node.id, 'ready', { reason: 'ssh answered', patch: { ip: '192.0.2.7' } });
        expect(ready).toMatchObject({ state: 'ready', stateTime: T0 + 60_000, ip: '192.0.2.7', created: T0 });
        expect(await store.getNode(node.id)).toEqual(ready);
        const rows = await store.audit({ kind: 'node', objectId: node.id });
        expect(rows.map((r) => [r.fromState, r.toState, r.reason, r.time])).toEqual([
          [null, 'building', null, T0],
          ['building', 'ready', 'ssh answered', T0 + 60_000],
        ]);
        expect(rows[1]).toMatchObject({ kind: 'node', objectId: node.id });
      });

      it('refuses a transition model.ts forbids and leaves the row and audit untouched', async () => {
        const node = await store.createNode(NEW);
        await ctx.clock.advance(1000);
        const err = await rejection(store.transitionNode(node.id, 'in-use', { patch: { ip: '192.0.2.9' }, reason: 'x' }));
        expect(err).toBeInstanceOf(InvalidTransitionError);
        expect(err).toMatchObject({ from: 'building', to: 'in-use', id: node.id });
        expect(await store.getNode(node.id)).toEqual(node);
        expect(await store.audit({ objectId: node.id, kind: 'node' })).toHaveLength(1);
      });

      it('refuses leaving deleting, and hold except to deleting', async () => {
        const node = await store.createNode(NEW);
        await store.transitionNode(node.id, 'ready');
        await store.transitionNode(node.id, 'hold', { patch: { holdReason: 'debug', holdExpires: T0 + 3600_000 } });
        expect(await rejection(store.transitionNode(node.id, 'ready'))).toBeInstanceOf(InvalidTransitionError);
        const deleting = await store.transitionNode(node.id, 'deleting');
        expect(deleting).toMatchObject({ state: 'deleting', holdReason: 'debug' });
        expect(await rejection(store.transitionNode(node.id, 'deleting'))).toBeInstanceOf(InvalidTransitionError);
        expect(await rejection(store.transitionNode(node.id, 'ready'))).toBeInstanceOf(InvalidTransitionError);
      });

      it('throws NotInStoreError when moving a missing node', async () => {
        expect(await rejection(store.transitionNode(777, 'ready'))).toBeInstanceOf(NotInStoreError);
      });

      it('compare-and-set: moves only while the node is in one of the expected states', async () => {
        const node = await store.createNode(NEW);
        await store.transitionNode(node.id, 'ready');
        await store.transitionNode(node.id, 'in-use', { from: ['ready'] });
        // An operator held it meanwhile: the caller that saw it in-use must not delete it.
        const held = await store.transitionNode(node.id, 'hold', { reason: 'operator' });
        await ctx.clock.advance(1000);
        const err = await rejection(store.transitionNode(node.id, 'deleting', { from: ['in-use', 'used'], patch: { comment: 'x' } }));
        expect(err).toBeInstanceOf(InvalidTransitionError);
        expect(await store.getNode(node.id)).toEqual(held);
        const auditCount = (await store.audit({ objectId: node.id, kind: 'node' })).length;
        expect(auditCount).toBe(4);
        const deleting = await store.transitionNode(node.id, 'deleting', { from: ['hold'] });
        expect(deleting.state).toBe('deleting');
      });

      it('removes a node but keeps its audit rows; removing a missing node is a no-op', async () => {
        const node = await store.createNode(NEW);
        await store.transitionNode(node.id, 'deleting', { reason: 'launch failed' });
        await store.removeNode(node.id);
        expect(await store.getNode(node.id)).toBeUndefined();
        expect(await store.listNodes()).toEqual([]);
        expect((await store.audit({ kind: 'node', objectId: node.id })).map((r) => r.toState)).toEqual(['building', 'deleting']);
        await expect(store.removeNode(node.id)).resolves.toBeUndefined();
      });
    });

    describe('images', () => {
      it('creates, lists, updates, moves and removes images', async () => {
        const a = await store.createImage({ provider: 'cloud-a', image: 'trusty', version: '1700000000' });
        expect(a).toEqual({ id: a.id, provider: 'cloud-a', image: 'trusty', version: '1700000000', externalId: null, state: 'building', stateTime: T0, created: T0, hostname: null, serverId: null, reason: null, step: null });
        const b = await store.createImage({ provider: 'cloud-b', image: 'trusty', version: '1700000001' });
        const c = await store.createImage({ provider: 'cloud-a', image: 'xenial', version: '1700000002' });
        expect(await store.getImage(a.id)).toEqual(a);
        expect(await store.getImage(999)).toBeUndefined();

        const withId = await store.updateImage(a.id, { externalId: 'glance-123', hostname: 'template-trusty-1', serverId: 'srv-9' });
        expect(withId).toMatchObject({ externalId: 'glance-123', hostname: 'template-trusty-1', serverId: 'srv-9', state: 'building' });
        const failed = await store.transitionImage(c.id, 'failed', { reason: 'setup exited 2', patch: { reason: 'setup exited 2' } });
        expect(failed).toMatchObject({ state: 'failed', reason: 'setup exited 2' });
        expect(await rejection(store.transitionImage(c.id, 'ready'))).toBeInstanceOf(InvalidTransitionError);
        expect(await rejection(store.updateImage(999, { externalId: 'x' }))).toBeInstanceOf(NotInStoreError);

        await ctx.clock.advance(10_000);
        const ready = await store.transitionImage(a.id, 'ready', { reason: 'snapshot active' });
        expect(ready).toMatchObject({ state: 'ready', stateTime: T0 + 10_000, externalId: 'glance-123' });

        const ids = async (f?: Parameters<Store['listImages']>[0]) => (await store.listImages(f)).map((i) => i.id);
        expect(await ids()).toEqual([a.id, b.id, c.id]);
        expect(await ids({ provider: 'cloud-a' })).toEqual([a.id, c.id]);
        expect(await ids({ image: 'trusty' })).toEqual([a.id, b.id]);
        expect(await ids({ states: ['ready'] })).toEqual([a.id]);
        expect(await ids({ provider: 'cloud-a', image: 'trusty', states: ['building'] })).toEqual([]);
        expect(await ids({ states: ['failed'] })).toEqual([c.id]);

        expect(await rejection(store.transitionImage(a.id, 'building'))).toBeInstanceOf(InvalidTransitionError);
        expect(await store.getImage(a.id)).toEqual(ready);
        expect(await rejection(store.transitionImage(999, 'ready'))).toBeInstanceOf(NotInStoreError);

        await store.transitionImage(a.id, 'deleting', { patch: { externalId: 'glance-123' } });
        await store.removeImage(a.id);
        expect(await store.getImage(a.id)).toBeUndefined();
        const rows = await store.audit({ kind: 'image', objectId: a.id });
        expect(rows.map((r) => [r.fromState, r.toState, r.reason])).toEqual([
          [null, 'building', null],
          ['building', 'ready', 'snapshot active'],
          ['ready', 'deleting', null],
        ]);
      });

      it('pauses and unpauses image names (upsert), and keeps operator build requests until taken', async () => {
        await store.pauseImage('trusty', 'broken mirror');
        await store.pauseImage('trusty', 'still broken');
        await store.pauseImage('xenial', null);
        expect(await store.listImagePauses()).toEqual([
          { image: 'trusty', reason: 'still broken', time: T0 },
          { image: 'xenial', reason: null, time: T0 },
        ]);
        expect(await store.unpauseImage('trusty')).toBe(true);
        expect(await store.unpauseImage('trusty')).toBe(false);
        expect((await store.listImagePauses()).map((p) => p.image)).toEqual(['xenial']);

        const r1 = await store.requestImageBuild('cloud-a', 'trusty');
        const r2 = await store.requestImageBuild('cloud-b', 'trusty');
        expect(r1).toEqual({ id: r1.id, provider: 'cloud-a', image: 'trusty', time: T0, imageId: null });
        await store.takeImageRequest(r1.id, 42);
        expect(await store.getImageRequest(r1.id)).toMatchObject({ imageId: 42 });
        expect((await store.listImageRequests({ open: true })).map((r) => r.id)).toEqual([r2.id]);
        expect((await store.listImageRequests()).map((r) => r.id)).toEqual([r1.id, r2.id]);
        expect(await store.getImageRequest(999)).toBeUndefined();
      });

      it('records the image a node booted', async () => {
        const node = await store.createNode(NEW);
        const updated = await store.updateNode(node.id, { imageId: 'glance-7', imageVersion: '20261202T021400Z' });
        expect(updated).toMatchObject({ imageId: 'glance-7', imageVersion: '20261202T021400Z' });
        const withStep = await store.updateImage((await store.createImage({ provider: 'p', image: 'i', version: 'v' })).id, { step: 'setup' });
        expect(withStep.step).toBe('setup');
      });
    });

    describe('audit', () => {
      it('filters by kind and object, oldest first; limit keeps the newest rows', async () => {
        const n = await store.createNode(NEW);
        const i = await store.createImage({ provider: 'cloud-a', image: 'trusty', version: '1' });
        await store.transitionNode(n.id, 'ready');
        await store.transitionNode(n.id, 'in-use');
        await store.transitionNode(n.id, 'used');
        const all = await store.audit();
        expect(all.map((r) => r.kind)).toEqual(['node', 'image', 'node', 'node', 'node']);
        expect(all.map((r) => r.id)).toEqual([...all.map((r) => r.id)].sort((x, y) => x - y));
        expect((await store.audit({ kind: 'image' })).map((r) => r.objectId)).toEqual([i.id]);
        expect((await store.audit({ kind: 'node', objectId: n.id, limit: 2 })).map((r) => r.toState)).toEqual(['in-use', 'used']);
      });
    });

    describe('meta', () => {
      it('keeps the first value written under a key', async () => {
        expect(await store.getMeta('deployment_id')).toBeUndefined();
        expect(await store.setMetaIfAbsent('deployment_id', 'first')).toBe('first');
        expect(await store.setMetaIfAbsent('deployment_id', 'second')).toBe('first');
        expect(await store.getMeta('deployment_id')).toBe('first');
      });
    });

    describe('pending unregisters', () => {
      it('adds once per target and hostname, defers with a count and error, lists what is due, removes', async () => {
        const a = await store.addPendingUnregister({ target: 'zuul', hostname: 'n-1', manager: 'm1', nodeId: 1 });
        expect(a).toMatchObject({ target: 'zuul', hostname: 'n-1', manager: 'm1', nodeId: 1, attempts: 0, lastError: null, nextTry: T0 });
        await store.addPendingUnregister({ target: 'zuul', hostname: 'n-2', manager: null, nodeId: 2 });
        const again = await store.addPendingUnregister({ target: 'zuul', hostname: 'n-1', manager: 'm2', nodeId: 1 });
        expect(again.id).toBe(a.id);
        expect(again.manager).toBe('m2');
        await store.deferPendingUnregister(a.id, 'timed out', T0 + 5000);
        expect((await store.listPendingUnregisters()).map((p) => [p.hostname, p.attempts, p.lastError])).toEqual([
          ['n-1', 1, 'timed out'],
          ['n-2', 0, null],
        ]);
        expect((await store.listPendingUnregisters({ dueBy: T0 })).map((p) => p.hostname)).toEqual(['n-2']);
        expect((await store.listPendingUnregisters({ dueBy: T0 + 5000 })).map((p) => p.hostname)).toEqual(['n-1', 'n-2']);
        await store.removePendingUnregister(a.id);
        await store.removePendingUnregister(a.id);
        expect((await store.listPendingUnregisters()).map((p) => p.hostname)).toEqual(['n-2']);
      });
    });

    describe('launch failures', () => {
      it('records failures newest first, filters them and keeps only the newest rows', async () => {
        const base = { nodeId: 1, hostname: 'trusty-cloud-a-1', code: 'timeout', message: 'boot took too long' };
        await store.recordLaunchFailure({ ...base, provider: 'cloud-a', label: 'trusty' });
        await ctx.clock.advance(1000);
        await store.recordLaunchFailure({ ...base, provider: 'cloud-b', label: 'trusty', code: 'quota' });
        await ctx.clock.advance(1000);
        await store.recordLaunchFailure({ ...base, provider: 'cloud-a', label: 'xenial', nodeId: null, hostname: null }, 2);
        const all = await store.listLaunchFailures();
        expect(all.map((f) => [f.provider, f.label, f.code, f.time])).toEqual([
          ['cloud-a', 'xenial', 'timeout', T0 + 2000],
          ['cloud-b', 'trusty', 'quota', T0 + 1000],
        ]);
        expect((await store.listLaunchFailures({ provider: 'cloud-b' })).map((f) => f.label)).toEqual(['trusty']);
        expect((await store.listLaunchFailures({ label: 'xenial' })).map((f) => f.nodeId)).toEqual([null]);
        expect((await store.listLaunchFailures({ since: T0 + 1500 })).length).toBe(1);
        expect((await store.listLaunchFailures({ limit: 1 }))[0].label).toBe('xenial');
      });
    });

    describe('changeMarker', () => {
      it.skipIf(!hooks.reopen)('changes when another connection commits, and only then', async () => {
        const other = await hooks.reopen!(store, ctx);
        extra.push(other);
        const before = await store.changeMarker();
        expect(await store.changeMarker()).toBe(before);
        const node = await other.createNode(NEW);
        const afterCreate = await store.changeMarker();
        expect(afterCreate).not.toBe(before);
        // The write is visible to the first connection.
        expect((await store.getNode(node.id))?.hostname).toBe(node.hostname);
        await other.transitionNode(node.id, 'ready');
        expect(await store.changeMarker()).not.toBe(afterCreate);
      });
    });

    describe('jobs', () => {
      it('stores job rules by name, refuses a name twice, and deletes by id', async () => {
        const a = await store.createJob('integration-.*', 2);
        await ctx.clock.advance(1000);
        const b = await store.createJob('gate-unit', 1);
        expect(a).toEqual({ id: a.id, name: 'integration-.*', holdOnFailure: 2, time: T0 });
        expect((await store.listJobs()).map((j) => [j.name, j.holdOnFailure, j.time])).toEqual([
          ['gate-unit', 1, T0 + 1000],
          ['integration-.*', 2, T0],
        ]);
        await expect(store.createJob('gate-unit', 3)).rejects.toThrow();
        expect(await store.deleteJob(b.id)).toBe(true);
        expect(await store.deleteJob(b.id)).toBe(false);
        expect((await store.listJobs()).map((j) => j.id)).toEqual([a.id]);
      });
    });

    it('close is idempotent', async () => {
      const s = await factory(ctx);
      await s.close();
      await expect(s.close()).resolves.toBeUndefined();
    });
  });
}

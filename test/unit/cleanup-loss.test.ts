// Cleanup's confirmed-loss rule: a node whose server one list misses is confirmed with one GET
// (404: lost at once; found: not lost); without a GET answer, only a second missing list loses it.
// And its ownership rule: servers of another deployment on the same project are never leaks.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Cleanup, type CleanupDeps } from '../../src/cleanup.js';
import { ManualClock } from '../../src/clock.js';
import type { PoolContext, ProviderRuntime } from '../../src/context.js';
import { parseConfig } from '../../src/config.js';
import { AuthError, CloudServerError } from '../../src/errors.js';
import { CloudHealth } from '../../src/cloud-health.js';
import { silentLogger } from '../../src/log.js';
import { serverMetadata, type NodeRecord } from '../../src/model.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import type { ManagedProvider } from '../../providers/managed-provider.js';
import type { CloudServer } from '../../providers/provider.js';
import { testContext, testRuntime } from '../helpers/pool-context.js';

const cfg = parseConfig(
  [
    'labels: [{ name: small, image: ubuntu, providers: [{ name: cloud-a }] }]',
    'providers:',
    '  - { name: cloud-a, max-servers: 5, auth: { auth-url: "http://127.0.0.1:1/v3", username: u, password: p, project-name: x }, images: [{ name: ubuntu, base-image: jammy }] }',
  ].join('\n'),
  'test.yaml',
);

/** What cleanup uses of a provider: the list it is shown, a GET answer per server id, deletes. */
class FakeApi {
  listed: CloudServer[] = [];
  /** GET answers: a server, null (404), or an error. Unset: 404. */
  get = new Map<string, CloudServer | null | Error>();
  gets: string[] = [];
  deleted: string[] = [];
  async listServers(): Promise<CloudServer[]> {
    return this.listed;
  }
  async getServer(id: string): Promise<CloudServer | null> {
    this.gets.push(id);
    const answer = this.get.get(id) ?? null;
    if (answer instanceof Error) throw answer;
    return answer;
  }
  async deleteServer(id: string): Promise<void> {
    this.deleted.push(id);
  }
  async getQuota() {
    return { maxInstances: null, maxCores: null, maxRamMb: null, usedInstances: 0, usedCores: 0, usedRamMb: 0 };
  }
  async listFlavors() {
    return [];
  }
  cachedFlavor() {
    return undefined;
  }
}

const cloudServer = (id: string, node: Pick<NodeRecord, 'id' | 'provider'>, deploymentId = 'dep-a'): CloudServer => ({
  id, name: `n-${id}`, status: 'active', rawStatus: 'ACTIVE', ip: null, az: null, fault: null, created: 0, metadata: serverMetadata(deploymentId, node),
});

let store: SqliteStore;
let api: FakeApi;
let cleanup: Cleanup;
let deletes: number[];

/** Cleanup of provider cloud-a on `rt`, with no launch or delete task working; `over` adds or replaces deps. */
function cleanupOn(ctx: PoolContext, rt: ProviderRuntime, over: Partial<CleanupDeps> = {}): Cleanup {
  return new Cleanup({
    ctx,
    runtime: () => rt,
    providerNames: () => ['cloud-a'],
    launching: () => false,
    deleting: () => false,
    resumeLaunch: () => undefined,
    dispatchDeletes: async () => undefined,
    ...over,
  });
}

beforeEach(() => {
  const clock = new ManualClock(1_000_000);
  store = SqliteStore.open(':memory:', { clock });
  api = new FakeApi();
  deletes = [];
  const rt = testRuntime(cfg.providers[0], api as unknown as ManagedProvider, 1);
  const ctx = testContext({ store, clock, config: cfg }, { deploymentId: 'dep-a', provider: () => rt, requestDelete: (id) => void deletes.push(id) });

  cleanup = cleanupOn(ctx, rt);
});

afterEach(async () => {
  await store.close();
});

async function inUseNode(serverId: string): Promise<NodeRecord> {
  const node = await store.createNode({ provider: 'cloud-a', label: 'small', image: 'ubuntu', target: '' });
  await store.updateNode(node.id, { serverId });
  await store.transitionNode(node.id, 'ready', { reason: 'test' });
  await store.transitionNode(node.id, 'in-use', { reason: 'test' });
  return (await store.getNode(node.id))!;
}

const state = async (id: number) => (await store.getNode(id))?.state;

describe('cleanup: confirmed loss', () => {
  it('a server missing from the list but found by its GET is not lost, on this pass or the next', async () => {
    const node = await inUseNode('s1');
    api.get.set('s1', cloudServer('s1', node));
    await cleanup.pass();
    expect(await state(node.id)).toBe('in-use');
    await cleanup.pass();
    expect(await state(node.id)).toBe('in-use');
    expect(api.gets).toEqual(['s1', 's1']);
    expect(deletes).toEqual([]);
  });

  it('a server missing from the list whose GET answers 404 is lost at once', async () => {
    const node = await inUseNode('s1');
    await cleanup.pass();
    expect(await state(node.id)).toBe('deleting');
    expect(deletes).toEqual([node.id]);
  });

  it('when the GET fails, the node is lost only when the next complete list misses it too', async () => {
    const node = await inUseNode('s1');
    api.get.set('s1', new CloudServerError('503', 503));
    await cleanup.pass();
    expect(await state(node.id)).toBe('in-use');
    await cleanup.pass();
    expect(await state(node.id)).toBe('deleting');
  });

  it('a miss is forgotten once the list shows the server again', async () => {
    const node = await inUseNode('s1');
    api.get.set('s1', new CloudServerError('503', 503));
    await cleanup.pass();
    api.listed = [cloudServer('s1', node)];
    await cleanup.pass();
    api.listed = [];
    await cleanup.pass();
    expect(await state(node.id)).toBe('in-use');
  });
});

describe('cleanup: ours means ours', () => {
  it('never deletes servers of another deployment, even with our node ids', async () => {
    const node = await inUseNode('s1');
    api.listed = [cloudServer('s1', node), cloudServer('t1', node, 'dep-b'), cloudServer('t2', { id: 2, provider: 'cloud-a' }, 'dep-b')];
    await cleanup.pass();
    await cleanup.pass();
    await cleanup.pass();
    expect(api.deleted).toEqual([]);
  });

  it('deletes our own leak on its second sighting', async () => {
    await inUseNode('s1');
    api.listed = [cloudServer('s1', { id: 1, provider: 'cloud-a' }), cloudServer('leak', { id: 1, provider: 'cloud-a' })];
    await cleanup.pass();
    expect(api.deleted).toEqual([]);
    await cleanup.pass();
    expect(api.deleted).toEqual(['leak']);
  });
});

describe('cleanup: image leaks', () => {
  it('a failing image leak pass (e.g. DescribeSnapshots not permitted) does not fail the node pass or skip the quota', async () => {
    const clock = new ManualClock(1_000_000);
    let quotaReads = 0;
    const quotaApi = Object.assign(new FakeApi(), {
      getQuota: async () => {
        quotaReads++;
        return { maxInstances: null, maxCores: null, maxRamMb: null, usedInstances: 0, usedCores: 0, usedRamMb: 0 };
      },
    });
    const rt = testRuntime(cfg.providers[0], quotaApi as unknown as ManagedProvider, 1);
    const ctx = testContext({ store, clock, config: cfg }, { deploymentId: 'dep-a', provider: () => rt, requestDelete: () => undefined });
    const health = new CloudHealth({ clock, log: silentLogger });
    const withLeaks = cleanupOn(ctx, rt, {
      cloudHealth: health,
      imageLeaks: async () => {
        throw new AuthError('EC2 DescribeSnapshots: UnauthorizedOperation', 403);
      },
    });
    await withLeaks.pass();
    expect(quotaReads).toBe(1);
    expect(health.status('cloud-a').up).toBe(true);
  });
});

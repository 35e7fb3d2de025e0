// In-process doubles for unit tests of the launcher, deleter and cleanup: a PoolContext with
// quiet defaults, a provider runtime, and a tiny in-memory cloud behind the real ManagedProvider.
import type { ManualClock } from '../../src/clock.js';
import { parseConfig, type Config, type ProviderConfig } from '../../src/config.js';
import type { PoolContext, ProviderRuntime } from '../../src/context.js';
import { silentLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics.js';
import { QuotaEstimate } from '../../src/quota-estimate.js';
import { Semaphore } from '../../src/semaphore.js';
import type { Store } from '../../src/store/store.js';
import type { Target } from '../../src/targets/target.js';
import type { ManagedProvider } from '../../providers/managed-provider.js';
import type { CloudServer, ProviderDriver } from '../../providers/provider.js';

/** The smallest valid config (label small on provider cloud-a, image ubuntu), plus `extra` top-level YAML. */
export function minimalConfig(extra = ''): Config {
  const yaml = `labels:
  - { name: small, image: ubuntu, providers: [{ name: cloud-a }] }
providers:
  - name: cloud-a
    auth: { auth-url: "http://127.0.0.1:5000/v3", username: admin, password: secret, project-name: demo }
    max-servers: 4
    images:
      - { name: ubuntu, base-image: ubuntu-jammy }
${extra}`;
  return parseConfig(yaml, 'test.yaml', {});
}

/** A target that accepts everything; `over` adds or replaces methods. */
export function fakeTarget(name: string, over: Partial<Target> = {}): Target {
  return { name, register: async () => ({}), unregister: async () => undefined, exists: async () => true, close: async () => undefined, ...over };
}

/** A PoolContext whose hooks do nothing unless `over` says otherwise. */
export function testContext(base: { store: Store; clock: ManualClock; config: Config }, over: Partial<PoolContext> = {}): PoolContext {
  return {
    deploymentId: 'test',
    store: base.store,
    clock: base.clock,
    log: silentLogger,
    metrics: new Metrics(),
    config: () => base.config,
    provider: () => undefined,
    target: () => undefined,
    readKey: async () => Buffer.alloc(0),
    requestPlan: () => undefined,
    requestDelete: () => undefined,
    launchEnded: () => undefined,
    ...over,
  };
}

export function testRuntime(cfg: ProviderConfig, api: ManagedProvider, slots = 5): ProviderRuntime {
  return { cfg, api, launchSlots: new Semaphore(slots), quota: new QuotaEstimate() };
}

/** A cloud whose servers become ACTIVE (at 127.0.0.1) `activeAfterMs` after creation; never, with Infinity. */
export function fakeDriver(clock: ManualClock, activeAfterMs: number): ProviderDriver {
  const servers = new Map<string, CloudServer>();
  let n = 0;
  const view = (s: CloudServer): CloudServer =>
    clock.now() - s.created >= activeAfterMs ? { ...s, status: 'active', rawStatus: 'ACTIVE', ip: '127.0.0.1' } : s;
  return {
    name: 'fake',
    async createServer(req) {
      const s: CloudServer = { id: `srv-${++n}`, name: req.name, status: 'building', rawStatus: 'BUILD', ip: null, az: null, metadata: req.metadata, fault: null, created: clock.now() };
      servers.set(s.id, s);
      return s;
    },
    async listServers() {
      return [...servers.values()].map(view);
    },
    async getServer(id) {
      return view(servers.get(id)!);
    },
    async deleteServer(id) {
      servers.delete(id);
    },
    async listFlavors() {
      return [{ id: 'f1', name: 'small', ramMb: 4096, vcpus: 2 }];
    },
    async getQuota() {
      return { maxInstances: null, maxCores: null, maxRamMb: null, usedInstances: 0, usedCores: 0, usedRamMb: 0 };
    },
    async listImages() {
      return [{ id: 'img', name: 'base', status: 'active', metadata: {}, created: 0 }];
    },
    async createImage() {
      throw new Error('the fake cloud takes no snapshots');
    },
    async deleteImage() {},
    async close() {},
  };
}

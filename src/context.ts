// What the launcher, deleter, cleanup and event handling share: injected, never global.
import type { Clock } from './clock.js';
import type { Config, ProviderConfig } from './config.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import type { QuotaEstimate } from './quota-estimate.js';
import type { Semaphore } from './semaphore.js';
import type { Store } from './store/store.js';
import type { Target } from './targets/target.js';
import type { NodeRecord } from './model.js';
import type { ManagedProvider } from '../providers/managed-provider.js';

export interface ProviderRuntime {
  cfg: ProviderConfig;
  api: ManagedProvider;
  launchSlots: Semaphore;
  quota: QuotaEstimate;
}

export interface PoolContext {
  /**
   * This installation's deployment id (config `deployment-id`, else generated once and kept in the
   * store), resolved at start and fixed for the daemon's life. Every server we create carries it
   * (model.serverMetadata); a server is ours only if it does.
   */
  readonly deploymentId: string;
  store: Store;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  config(): Config;
  provider(name: string): ProviderRuntime | undefined;
  /** Undefined when the label registers with no master (the node is ready once SSH answers). */
  target(name: string): Target | undefined;
  readKey(path: string): Promise<Buffer>;
  /** Wakes the planner (coalesced). */
  requestPlan(reason: string): void;
  /** Hands a node in state deleting to the deleter. */
  requestDelete(nodeId: number): void;
  /** A launch ended: ready, or failed for good (quota refusals are not failures). */
  launchEnded(node: NodeRecord, outcome: 'ready' | 'failed'): void;
}

// The live provider runtimes (API client, launch slots, quota estimate), one per configured
// provider. A config reload replaces a changed provider's API client, but what was learnt about
// the cloud (the quota estimate) and what bounds work in flight (launch slots) belong to the
// provider name and carry over. A replaced client is closed once the work that used it is done.
import type { ProviderConfig } from './config.js';
import type { ProviderRuntime } from './context.js';
import { QuotaEstimate } from './quota-estimate.js';
import { Semaphore } from './semaphore.js';
import type { ManagedProvider } from '../providers/managed-provider.js';
import type { Flavor } from '../providers/provider.js';

/**
 * The flavor a provider image boots with, from the cached flavor list without waiting (a cloud
 * that does not answer never stalls the caller); undefined if none fits or no list was read yet.
 */
export function imageFlavor(rt: ProviderRuntime, image: string): Flavor | undefined {
  const cfg = rt.cfg.images.find((i) => i.name === image);
  return cfg && rt.api.cachedFlavor(cfg['min-ram'], cfg['name-filter']);
}

export interface ProviderRuntimesOptions {
  makeApi(cfg: ProviderConfig): ManagedProvider;
  /** Resolves when the work in flight that may hold the old client has ended. */
  drained(name: string): Promise<unknown>;
  onCloseError?(name: string, err: unknown): void;
}

export class ProviderRuntimes {
  private readonly live = new Map<string, ProviderRuntime>();
  private readonly closing = new Set<Promise<unknown>>();

  constructor(private readonly opts: ProviderRuntimesOptions) {}

  get(name: string): ProviderRuntime | undefined {
    return this.live.get(name);
  }

  names(): string[] {
    return [...this.live.keys()];
  }

  values(): ProviderRuntime[] {
    return [...this.live.values()];
  }

  /**
   * Makes the runtimes match `configs`: new providers get a runtime, changed ones a new API
   * client (quota estimate and slots kept), removed ones are retired. Returns the names added.
   */
  apply(configs: readonly ProviderConfig[]): string[] {
    const added: string[] = [];
    for (const cfg of configs) {
      const current = this.live.get(cfg.name);
      if (current && JSON.stringify(current.cfg) === JSON.stringify(cfg)) continue;
      if (current) {
        this.retire(current);
        current.launchSlots.setLimit(cfg['max-concurrency']);
        this.live.set(cfg.name, { cfg, api: this.opts.makeApi(cfg), launchSlots: current.launchSlots, quota: current.quota });
      } else {
        added.push(cfg.name);
        this.live.set(cfg.name, { cfg, api: this.opts.makeApi(cfg), launchSlots: new Semaphore(cfg['max-concurrency']), quota: new QuotaEstimate() });
      }
    }
    for (const [name, rt] of this.live) {
      if (configs.some((c) => c.name === name)) continue;
      this.live.delete(name);
      this.retire(rt);
    }
    return added;
  }

  /** Closes every client, live and retired; idempotent through ManagedProvider.close. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.live.values()].map((rt) => rt.api.close()));
    await Promise.allSettled([...this.closing]);
  }

  private retire(rt: ProviderRuntime): void {
    const done = this.opts
      .drained(rt.cfg.name)
      .catch(() => undefined)
      .then(() => rt.api.close())
      .catch((err) => this.opts.onCloseError?.(rt.cfg.name, err))
      .finally(() => this.closing.delete(done));
    this.closing.add(done);
  }
}

// Whether each provider's cloud answers, as seen by cleanup's reconcile passes. Logs each change
// once ("cloud unreachable" when a pass fails, "cloud reachable again" when one works after
// that) and keeps the state for /health and the nodepool_cloud_up gauge.
import type { Clock } from './clock.js';
import type { Logger } from './log.js';

export interface CloudStatus {
  /** null until the first pass answered or failed. */
  up: boolean | null;
  /** When `up` last changed (or the tracker started). */
  since: number;
  lastError?: string;
}

/** What a pass changed: 'down' (was up or unknown), 'up' (was down), or nothing. */
export type CloudTransition = 'down' | 'up' | null;

export interface CloudHealthOptions {
  clock: Clock;
  log: Logger;
  /** Called after every pass with its outcome (e.g. to set a gauge). */
  onState?: (provider: string, up: boolean) => void;
}

export class CloudHealth {
  private readonly states = new Map<string, CloudStatus>();
  private readonly started: number;

  constructor(private readonly opts: CloudHealthOptions) {
    this.started = opts.clock.now();
  }

  /** A pass against the provider worked. */
  answered(provider: string): CloudTransition {
    const prev = this.status(provider);
    const now = this.opts.clock.now();
    this.opts.onState?.(provider, true);
    if (prev.up === true) return null;
    this.states.set(provider, { up: true, since: now });
    if (prev.up === null) return null;
    this.opts.log.info({ provider, downForMs: now - prev.since }, 'cloud reachable again');
    return 'up';
  }

  /** A pass against the provider failed. */
  failed(provider: string, err: unknown): CloudTransition {
    const prev = this.status(provider);
    const error = err instanceof Error ? err.message : String(err);
    this.opts.onState?.(provider, false);
    if (prev.up === false) {
      this.states.set(provider, { ...prev, lastError: error });
      return null;
    }
    this.states.set(provider, { up: false, since: this.opts.clock.now(), lastError: error });
    this.opts.log.warn({ provider, error }, 'cloud unreachable');
    return 'down';
  }

  status(provider: string): CloudStatus {
    return { ...(this.states.get(provider) ?? { up: null, since: this.started }) };
  }

  /** The provider left the config. */
  forget(provider: string): void {
    this.states.delete(provider);
  }
}

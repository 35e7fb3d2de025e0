// Target removals (Jenkins doDelete, Gearman node_revoke) are persisted before they are tried
// (Store.addPendingUnregister) and retried until the target acknowledges: a master that was down
// when a node was deleted still loses the node once it is back. The deleter records and tries
// first; pass() (on the cleanup timer) retries the ones that are due, with capped backoff.
import type { PoolContext } from './context.js';
import { errorCode } from './errors.js';
import type { PendingUnregister } from './model.js';
import { joined } from './joined.js';

const BASE_MS = 5_000;
const MAX_MS = 10 * 60_000;

/** Backoff before the try after `attempts` failed ones: 5 s doubling, capped at 10 min. */
export function unregisterBackoffMs(attempts: number): number {
  return Math.min(MAX_MS, BASE_MS * 2 ** Math.max(0, attempts - 1));
}

/**
 * One try of a pending removal: removed on success, deferred on failure. Never throws; true when
 * acknowledged. A target no longer configured cannot be asked: kept, and retried after a reload.
 */
export async function tryUnregister(ctx: PoolContext, p: PendingUnregister): Promise<boolean> {
  const log = ctx.log.child({ node_hostname: p.hostname, target: p.target });
  const target = ctx.target(p.target);
  try {
    if (!target) throw new Error(`target ${p.target} is not configured`);
    await target.unregister({ hostname: p.hostname, manager: p.manager });
    await ctx.store.removePendingUnregister(p.id);
    if (p.attempts > 0) log.info({ attempts: p.attempts + 1 }, 'pending unregister acknowledged');
    return true;
  } catch (err) {
    const backoff = unregisterBackoffMs(p.attempts + 1);
    log.warn({ err, attempt: p.attempts + 1, retryInMs: backoff }, 'could not unregister node from target; will retry');
    ctx.metrics.errors.inc({ component: 'target', reason: errorCode(err) });
    await ctx.store
      .deferPendingUnregister(p.id, err instanceof Error ? err.message : String(err), ctx.clock.now() + backoff)
      .catch((deferErr) => log.warn({ err: deferErr }, 'could not defer the pending unregister'));
    return false;
  }
}

export class UnregisterRetry {
  constructor(private readonly ctx: PoolContext) {}

  /** Retries every due pending removal once; a pass already running is joined. */
  readonly pass = joined(() => this.run());

  private async run(): Promise<void> {
    for (const p of await this.ctx.store.listPendingUnregisters({ dueBy: this.ctx.clock.now() })) await tryUnregister(this.ctx, p);
  }
}

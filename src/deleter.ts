// Deletes nodes in state deleting: unregister from the target (write-ahead, retried until
// acknowledged: unregister-retry.ts), delete the server, wait until the
// cloud no longer lists it, remove the row (its audit rows stay). A failure leaves the row in
// deleting; the next pass retries after a backoff.
import { setMaxListeners } from 'node:events';
import { errorCode } from './errors.js';
import { nodeLogger } from './log.js';
import type { NodeRecord } from './model.js';
import type { PoolContext } from './context.js';
import { tryUnregister } from './unregister-retry.js';

const DELETE_WAIT_MS = 10 * 60_000;

export class Deleter {
  private readonly inFlight = new Map<number, Promise<void>>();
  private readonly failures = new Map<number, { count: number; notBefore: number }>();
  private readonly shutdown = new AbortController();
  /** Nodes whose removal from the target is recorded (pending or done): not recorded twice. */
  private readonly unregistered = new Set<number>();

  constructor(private readonly ctx: PoolContext) {
    // Every delete waiting for its server to go listens on this one signal.
    setMaxListeners(0, this.shutdown.signal);
  }

  /** Starts deleting the node unless a delete is already running or backing off. */
  delete(node: NodeRecord): Promise<void> {
    const running = this.inFlight.get(node.id);
    if (running) return running;
    const failed = this.failures.get(node.id);
    if (this.shutdown.signal.aborted || (failed && failed.notBefore > this.ctx.clock.now())) return Promise.resolve();
    const task = this.run(node).finally(() => this.inFlight.delete(node.id));
    this.inFlight.set(node.id, task);
    return task;
  }

  isDeleting(id: number): boolean {
    return this.inFlight.has(id);
  }

  /** Stops waiting for servers to go; rows stay deleting and are resumed on the next start. */
  async stop(): Promise<void> {
    this.shutdown.abort(new Error('daemon stopping'));
    await this.drain();
  }

  /** Waits for every delete in flight. */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.inFlight.values()]);
  }

  private async run(node: NodeRecord): Promise<void> {
    const { ctx } = this;
    const log = nodeLogger(ctx.log, node);
    const rt = ctx.provider(node.provider);
    try {
      if (ctx.target(node.target) && !this.unregistered.has(node.id)) {
        // Write-ahead: the removal is recorded before it is tried, and retried until the target
        // acknowledges (unregister-retry.ts). A master that is down must not keep a VM alive:
        // a failed try is deferred and the delete goes on.
        const pending = await ctx.store.addPendingUnregister({ target: node.target, hostname: node.hostname, manager: node.manager, nodeId: node.id });
        this.unregistered.add(node.id);
        await tryUnregister(ctx, pending);
      }
      if (node.serverId) {
        if (!rt) throw new Error(`provider ${node.provider} is not configured; cannot delete server ${node.serverId}`);
        await rt.api.deleteServer(node.serverId);
        await rt.api.waitForGone(node.serverId, DELETE_WAIT_MS, this.shutdown.signal);
      }
      await ctx.store.removeNode(node.id);
      this.failures.delete(node.id);
      this.unregistered.delete(node.id);
      ctx.metrics.deleteEnded(node, 'ok');
      log.info({ server: node.serverId }, 'node deleting -> gone');
      ctx.requestPlan('node deleted');
    } catch (err) {
      if (this.shutdown.signal.aborted) return;
      const prev = this.failures.get(node.id)?.count ?? 0;
      const backoff = Math.min(60_000, 1000 * 2 ** prev);
      this.failures.set(node.id, { count: prev + 1, notBefore: ctx.clock.now() + backoff });
      ctx.metrics.deleteEnded(node, errorCode(err));
      log.warn({ err, retryInMs: backoff }, 'delete failed; will retry');
    }
  }
}

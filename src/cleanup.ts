// Cleanup: crash recovery per provider at start-up, and the periodic pass (expiries, stuck
// launches, lost and leaked servers, quota refresh, pending deletes). The decisions are the pure
// rules of reconcile.ts; this module applies them.
import { errorCode } from './errors.js';
import { nodeLogger } from './log.js';
import type { NodeRecord } from './model.js';
import { expiredNodes, isOurs, reconcile } from './reconcile.js';
import type { PoolContext, ProviderRuntime } from './context.js';
import type { CloudServer } from '../providers/provider.js';
import type { CloudHealth } from './cloud-health.js';
import { imageFlavor } from './provider-runtimes.js';

export interface CleanupDeps {
  ctx: PoolContext;
  runtime(name: string): ProviderRuntime | undefined;
  providerNames(): string[];
  /** A launch task is working on the node. */
  launching(nodeId: number): boolean;
  /** A delete task is working on the node. */
  deleting(nodeId: number): boolean;
  /** Resumes a launch interrupted by a crash or stop. */
  resumeLaunch(node: NodeRecord): void;
  /** Hands deleting rows the deleter is not working on to it. */
  dispatchDeletes(): Promise<void>;
  /** Told the outcome of every reconcile pass: logs a cloud going away and coming back, feeds /health. */
  cloudHealth?: CloudHealth;
  /** Deletes leaked snapshots and bake servers (the image builder), given the list just read. */
  imageLeaks?(rt: ProviderRuntime, servers: readonly CloudServer[]): Promise<void>;
}

export class Cleanup {
  private readonly suspects = new Map<string, Set<string>>();
  /** Per provider: nodes whose server the last complete list missed and no GET has found since. */
  private readonly missing = new Map<string, Set<number>>();
  /** Providers not reconciled since start (their cloud did not answer yet): no launches there. */
  private readonly unreconciled = new Set<string>();
  private running = false;
  private startupDone = false;

  constructor(private readonly deps: CleanupDeps) {}

  /** The planner launches only on providers whose cloud has been reconciled. */
  reconciled(name: string): boolean {
    return !this.unreconciled.has(name);
  }

  /** A provider the daemon has just started to manage: recovered before it gets launches. */
  add(name: string): void {
    this.unreconciled.add(name);
  }

  /** Recovers every provider once; the first plan waits for this. */
  async startup(names: readonly string[]): Promise<void> {
    for (const name of names) this.unreconciled.add(name);
    await Promise.all(names.map((name) => this.recover(name)));
    this.startupDone = true;
  }

  /** Retries recovery of providers whose cloud did not answer yet (after a reload, too). */
  recoverPending(): void {
    for (const name of this.unreconciled) void this.recover(name);
  }

  /**
   * Crash recovery for one provider: reconcile rows with the cloud, then resume the launches and
   * deletes that were in flight. A cloud that does not answer gets no launches and is tried
   * again on every cleanup pass; the others go on.
   */
  async recover(name: string): Promise<void> {
    const { ctx } = this.deps;
    if (!(await this.reconcileProvider(name, true))) return;
    if (!this.unreconciled.delete(name)) return;
    for (const node of await ctx.store.listNodes({ provider: name, states: ['building', 'deleting'] })) {
      if (node.state === 'building') this.deps.resumeLaunch(node);
      else ctx.requestDelete(node.id);
    }
    // At start-up the first plan waits until every cloud that answers is reconciled.
    if (this.startupDone) ctx.requestPlan('provider recovered');
  }

  /** One pass. Passes never overlap; a pass asked for while one runs is skipped. */
  async pass(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const { ctx } = this.deps;
      const now = ctx.clock.now();
      const nodes = await ctx.store.listNodes();
      for (const { node, why } of expiredNodes(nodes, now, ctx.config()['max-age'])) await this.toDeleting(node, why);
      for (const node of nodes) {
        const limit = this.deps.runtime(node.provider)?.cfg['launch-timeout'] ?? 0;
        if (node.state === 'building' && !this.deps.launching(node.id) && now - node.stateTime > limit) await this.toDeleting(node, 'launch stuck');
      }
      await Promise.all(this.deps.providerNames().map((name) => (this.unreconciled.has(name) ? this.recover(name) : this.reconcileProvider(name, false))));
      await this.deps.dispatchDeletes();
    } finally {
      this.running = false;
    }
  }

  async toDeleting(node: NodeRecord, why: string): Promise<void> {
    const { ctx } = this.deps;
    try {
      await ctx.store.transitionNode(node.id, 'deleting', { from: [node.state], reason: why, patch: { comment: why } });
      nodeLogger(ctx.log, node).info({ why }, `node ${node.state} -> deleting`);
      ctx.requestDelete(node.id);
    } catch (err) {
      nodeLogger(ctx.log, node).debug({ err }, 'node changed before it could be marked deleting');
    }
  }

  /** Matches rows with the cloud's servers; at start-up also adopts or drops interrupted launches. */
  private async reconcileProvider(name: string, startup: boolean): Promise<boolean> {
    const { ctx } = this.deps;
    const rt = this.deps.runtime(name);
    if (!rt) return false;
    const log = ctx.log.child({ provider: name });
    try {
      const servers = await rt.api.listServers();
      const nodes = await ctx.store.listNodes({ provider: name });
      const busy = new Set(nodes.filter((n) => this.deps.launching(n.id) || this.deps.deleting(n.id)).map((n) => n.id));
      const actions = reconcile({
        provider: name,
        deploymentId: ctx.deploymentId,
        nodes,
        busy,
        servers,
        suspects: this.suspects.get(name) ?? new Set(),
        missing: this.missing.get(name) ?? new Set(),
        startup,
      });
      this.suspects.set(name, actions.suspects);
      const lost = [...actions.lost];
      const missing = new Set(actions.missing);
      this.missing.set(name, missing);
      const byId = new Map(nodes.map((n) => [n.id, n]));
      for (const a of actions.adopt) {
        await ctx.store.updateNode(a.nodeId, { serverId: a.serverId });
        nodeLogger(ctx.log, byId.get(a.nodeId)!).info({ server: a.serverId }, 'adopted server of an interrupted launch');
      }
      for (const id of actions.dropRows) {
        await ctx.store.transitionNode(id, 'deleting', { from: ['building'], reason: 'server never created' });
        await ctx.store.removeNode(id);
        nodeLogger(ctx.log, byId.get(id)!).info('node building -> gone: its server was never created');
      }
      // A first miss is confirmed by one GET: a 404 loses the node at once, a server found clears
      // the miss (the GET outranks one list); a failed GET keeps it, so the next list decides.
      for (const id of actions.missing) {
        const serverId = byId.get(id)?.serverId;
        if (!serverId) continue;
        try {
          const found = await rt.api.getServer(serverId);
          missing.delete(id);
          if (found) nodeLogger(ctx.log, byId.get(id)!).info({ server: serverId }, 'server missing from the list but its GET found it; not lost');
          else lost.push(id);
        } catch (err) {
          nodeLogger(ctx.log, byId.get(id)!).warn({ err, server: serverId }, 'server missing from the list and its GET failed; the next list decides');
        }
      }
      for (const id of lost) {
        const node = await ctx.store.getNode(id);
        if (node) await this.toDeleting(node, 'server no longer in the cloud');
      }
      for (const server of actions.leaked) {
        log.warn({ server: server.id, name: server.name }, 'deleting leaked server');
        await rt.api.deleteServer(server.id);
        ctx.metrics.leaks.inc({ provider: name, kind: 'server' });
      }
      // At start-up the builder has not looked at its rows yet: leaks wait for the periodic passes.
      // Image leaks are the builder's: their failure (a missing IAM permission, a snapshot EC2 says
      // is in use) must not fail this pass, which would skip the quota and mark the cloud down.
      if (!startup && this.deps.imageLeaks) {
        await this.deps.imageLeaks(rt, servers).catch((err: unknown) => {
          log.warn({ err }, 'image leak cleanup failed; tried again on the next pass');
          ctx.metrics.errors.inc({ component: 'image-leaks', reason: errorCode(err) });
        });
      }
      await this.refreshQuota(rt, servers, nodes);
      this.deps.cloudHealth?.answered(name);
      return true;
    } catch (err) {
      // "cloud unreachable" is logged once per outage (cloud-health.ts); later failed passes at debug.
      const news = this.deps.cloudHealth ? this.deps.cloudHealth.failed(name, err) === 'down' : true;
      log[news ? 'warn' : 'debug']({ err, startup }, startup ? 'cloud not reconciled; no launches there until it answers' : 'reconcile pass failed');
      ctx.metrics.errors.inc({ component: 'cleanup', reason: errorCode(err) });
      return false;
    }
  }

  /** Quota totals for us; our servers' cores and RAM come from each node's own image flavor. */
  private async refreshQuota(rt: ProviderRuntime, servers: readonly CloudServer[], nodes: readonly NodeRecord[]): Promise<void> {
    const quota = await rt.api.getQuota();
    const byServer = new Map(nodes.filter((n) => n.serverId).map((n) => [n.serverId, n]));
    // Ours: our deployment's metadata, or a row recorded the id (a server created before deployment ids).
    const ours = servers.filter((s) => isOurs(s, this.deps.ctx.deploymentId, rt.cfg.name) || byServer.has(s.id));
    // The flavor list is cached; read it once here so the sizes below (and the planner) have it.
    await rt.api.listFlavors().catch(() => undefined);
    const sizes = ours.map((s) => {
      const node = byServer.get(s.id);
      const flavor = node && imageFlavor(rt, node.image);
      return flavor && { vcpus: flavor.vcpus, ramMb: flavor.ramMb };
    });
    rt.quota.update(quota, sizes);
  }
}

// The periodic pass that repairs lost build events: ZeroMQ drops every frame sent while the
// subscriber is disconnected, so each node we believe ready or in use is checked against its
// master's own view (Target.view, one request per node) and decideTargetRepair says what to do.
// Passes never overlap: a request during a pass collapses into one more pass after it. A request
// may name targets (a publisher that reconnected speaks for its own master); the next pass then
// covers the union of what was asked, or every target when any request named none. A request
// means events were lost (start-up, reconnect, build-number gap), so its pass also asks build
// history where the cheap view cannot tell (ViewOptions.history); the periodic pass() does not.
import { takeNodeOffline } from './build-events.js';
import { Coalescer } from './coalescer.js';
import type { PoolContext } from './context.js';
import { errorCode } from './errors.js';
import { nodeLogger } from './log.js';
import type { NodeRecord } from './model.js';
import { decideTargetRepair, type TargetRepair } from './target-reconcile.js';

export interface TargetReconcileOptions {
  /** An in-use node younger than this is not judged idle (see TargetRepairInput.graceMs). Default 30 s. */
  graceMs?: number;
  /** Views asked at once. Default 4. */
  concurrency?: number;
}

export interface ReconcilePassStats {
  /** Nodes whose target has a view. */
  nodes: number;
  /** Target.view calls made (Jenkins: one GET each). */
  views: number;
  /** Views that failed (the node is left alone until the next pass). */
  failed: number;
  /** Views the target could not answer (a Gearman manager without node_status): nothing to judge. */
  skipped: number;
  repairs: number;
}

export class TargetReconcilePass {
  private readonly graceMs: number;
  private readonly concurrency: number;
  private readonly runner: Coalescer;
  private last: ReconcilePassStats = { nodes: 0, views: 0, failed: 0, skipped: 0, repairs: 0 };
  private passes = 0;
  /** What the next pass covers: target names, 'all', or null when nothing was asked. */
  private scope: Set<string> | 'all' | null = null;
  /** Whether the next pass asks build history (some request since the last pass started). */
  private history = false;

  constructor(
    private readonly ctx: PoolContext,
    opts: TargetReconcileOptions = {},
  ) {
    this.graceMs = opts.graceMs ?? 30_000;
    this.concurrency = Math.max(1, opts.concurrency ?? 4);
    this.runner = new Coalescer(
      () => this.run(),
      (err) => {
        this.ctx.log.error({ err }, 'target reconcile pass failed');
        this.ctx.metrics.errors.inc({ component: 'target-reconcile', reason: errorCode(err) });
      },
    );
  }

  /**
   * Asks for a pass soon (coalesced: at most one more after the one running), over these targets'
   * nodes only, or every target's when none are named.
   */
  request(reason: string, targets?: readonly string[]): void {
    this.ctx.log.info({ reason, targets: targets ?? 'all' }, 'target reconcile pass requested');
    this.widen(targets);
    this.history = true;
    this.runner.request();
  }

  /** Runs a pass over every target (or joins the one running plus one more) and resolves when none is pending. */
  async pass(): Promise<ReconcilePassStats> {
    this.widen(undefined);
    this.runner.request();
    await this.runner.idle();
    return this.last;
  }

  /** Resolves when no pass is running or pending (without asking for one). */
  idle(): Promise<void> {
    return this.runner.idle();
  }

  /** The last pass's counts, and how many passes ran. */
  stats(): ReconcilePassStats & { passes: number } {
    return { ...this.last, passes: this.passes };
  }

  close(): Promise<void> {
    return this.runner.close();
  }

  private widen(targets: readonly string[] | undefined): void {
    if (!targets) this.scope = 'all';
    else if (this.scope !== 'all') this.scope = new Set([...(this.scope ?? []), ...targets]);
  }

  private async run(): Promise<void> {
    const { ctx } = this;
    const scope = this.scope ?? 'all';
    const history = this.history;
    this.scope = null;
    this.history = false;
    const nodes = (await ctx.store.listNodes({ states: ['ready', 'in-use'] })).filter((n) => (scope === 'all' || scope.has(n.target)) && ctx.target(n.target)?.view);
    const stats: ReconcilePassStats = { nodes: nodes.length, views: 0, failed: 0, skipped: 0, repairs: 0 };
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < nodes.length) {
        const node = nodes[next++];
        if (await this.check(node, stats, history)) stats.repairs++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, nodes.length) }, worker));
    this.last = stats;
    this.passes++;
    if (stats.repairs || stats.failed) ctx.log.info({ ...stats, history }, 'target reconcile pass');
  }

  /** One view, one decision; true when the node was repaired. */
  private async check(node: NodeRecord, stats: ReconcilePassStats, history: boolean): Promise<boolean> {
    const { ctx } = this;
    const target = ctx.target(node.target);
    if (!target?.view) return false;
    const log = nodeLogger(ctx.log, node);
    stats.views++;
    let view;
    try {
      view = await target.view(node, { history });
    } catch (err) {
      stats.failed++;
      log.warn({ err, target: target.name }, 'could not ask the target about the node; checked again next pass');
      ctx.metrics.errors.inc({ component: 'target-reconcile', reason: errorCode(err) });
      return false;
    }
    if (view === null) {
      stats.skipped++;
      return false;
    }
    const repair = decideTargetRepair({ state: node.state, view, stateAgeMs: ctx.clock.now() - node.stateTime, graceMs: this.graceMs });
    if (repair.action === 'none') return false;
    try {
      await this.apply(node, repair);
    } catch (err) {
      // A compare-and-set lost to an event (or the CLI) that moved the node meanwhile: theirs wins.
      log.debug({ err, action: repair.action }, 'node changed before it could be repaired');
      return false;
    }
    ctx.metrics.targetRepairs.inc({ target: target.name, action: repair.action });
    return true;
  }

  private async apply(node: NodeRecord, repair: Exclude<TargetRepair, { action: 'none' }>): Promise<void> {
    const { ctx } = this;
    const log = nodeLogger(ctx.log, node).child({ repair: repair.action, why: repair.why });
    const reason = `reconcile: ${repair.why}`;
    if (repair.action === 'in-use') {
      await ctx.store.transitionNode(node.id, 'in-use', { from: ['ready'], reason });
      log.info('node ready -> in-use (reconciled with its master)');
      ctx.requestPlan('reconcile');
      await takeNodeOffline(ctx, node, `nodepool: single use, a build runs on it (${repair.why})`, 'build-started', log);
      return;
    }
    if (repair.action === 'used') {
      // hold-on-failure needs the build's result, which only the lost event carried: deleted.
      if (node.state === 'ready') await ctx.store.transitionNode(node.id, 'in-use', { from: ['ready'], reason });
      const used = await ctx.store.transitionNode(node.id, 'used', { from: ['in-use'], reason });
      await ctx.store.transitionNode(used.id, 'deleting', { from: ['used'], reason: 'build finished (reconciled)' });
      log.info(`node ${node.state === 'ready' ? 'ready -> in-use' : 'in-use'} -> used -> deleting (reconciled with its master)`);
      ctx.requestDelete(used.id);
      // A ready node left the pool: the planner replaces it.
      if (node.state === 'ready') ctx.requestPlan('reconcile');
      return;
    }
    await ctx.store.transitionNode(node.id, 'deleting', { from: ['ready'], reason, patch: { comment: repair.why } });
    log.info('node ready -> deleting (reconciled with its master)');
    ctx.requestDelete(node.id);
    ctx.requestPlan('reconcile');
  }
}

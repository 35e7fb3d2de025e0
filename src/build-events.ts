// What a build event means for a node. onStarted: in use, and the planner runs at once so the
// replacement's create call goes out in milliseconds. onFinalized: used, then deleted, or held
// when the job asks for hold-on-failure and the build did not succeed.
import { errorCode } from './errors.js';
import { nodeLogger, type Logger } from './log.js';
import type { PoolContext } from './context.js';
import type { JobConfig } from './config.js';
import type { NodeRecord } from './model.js';
import type { OfflineCause } from './targets/target.js';

/** The fields of a Jenkins ZMQ event this handler reads. */
export interface BuildEventFields {
  topic: string;
  name: string;
  build: { number: number; node_name: string; status?: string | null; full_url?: string };
}

const HOLD_PREFIX = 'hold-on-failure:';

export function jobRule(jobs: readonly JobConfig[], job: string): JobConfig | undefined {
  return jobs.find((j) => j.name === job || new RegExp(`^(?:${j.name})$`).test(job));
}

/**
 * Single use, enforced: takes the node out of its master's schedulable set (Jenkins agent
 * offline, Gearman node revoked). Never throws: a failure is logged and counted, and true/false
 * says whether the target acknowledged.
 */
export async function takeNodeOffline(
  ctx: PoolContext,
  node: Pick<NodeRecord, 'hostname' | 'manager' | 'target'>,
  reason: string,
  cause: OfflineCause,
  log: Logger = ctx.log,
): Promise<boolean> {
  const target = ctx.target(node.target);
  if (!target?.takeOffline) return true;
  try {
    await target.takeOffline(node, reason, cause);
    return true;
  } catch (err) {
    log.warn({ err, target: target.name }, 'could not take the node offline in its target');
    ctx.metrics.errors.inc({ component: 'target', reason: errorCode(err) });
    return false;
  }
}

export interface BuildEventHandlerOptions {
  /**
   * A job's build number jumped by more than one over the highest seen: the events between were
   * lost (the daemon then asks the masters at once).
   */
  onBuildGap?: (job: string, last: number, seen: number) => void;
}

export class BuildEventHandler {
  /** Per job, the highest build number an event was seen for. */
  private readonly lastBuild = new Map<string, number>();

  constructor(
    private readonly ctx: PoolContext,
    private readonly opts: BuildEventHandlerOptions = {},
  ) {}

  async handle(ev: BuildEventFields): Promise<void> {
    const { ctx } = this;
    const topic = ev.topic;
    this.noteBuildNumber(ev.name, ev.build.number);
    if (topic === 'onCompleted') {
      ctx.metrics.events.inc({ topic, outcome: 'ignored' });
      return;
    }
    const node = await ctx.store.getNodeByHostname(ev.build.node_name);
    if (!node) {
      ctx.metrics.events.inc({ topic, outcome: 'unknown-node' });
      ctx.log.info({ topic, nodeName: ev.build.node_name, job: ev.name }, 'build event for a node we do not own');
      return;
    }
    const log = nodeLogger(ctx.log, node).child({ job: ev.name, build: ev.build.number });
    if (topic === 'onStarted') {
      const reason = `nodepool: single use, ${ev.name} #${ev.build.number} started`;
      if (node.state !== 'ready') {
        ctx.metrics.events.inc({ topic, outcome: `in-state-${node.state}` });
        log.info({ state: node.state }, 'build started on a node that is not ready; state kept');
        await takeNodeOffline(ctx, node, reason, 'build-started', log);
        return;
      }
      await ctx.store.transitionNode(node.id, 'in-use', { from: ['ready'], reason: `${ev.name} #${ev.build.number} started` });
      ctx.metrics.events.inc({ topic, outcome: 'ok' });
      log.info('node ready -> in-use');
      ctx.requestPlan('onStarted');
      // After the planner is woken: the replacement's create call does not wait on the master.
      await takeNodeOffline(ctx, node, reason, 'build-started', log);
      return;
    }
    if (topic !== 'onFinalized') {
      ctx.metrics.events.inc({ topic, outcome: 'unknown-topic' });
      return;
    }
    if (node.state === 'hold' || node.state === 'deleting') {
      ctx.metrics.events.inc({ topic, outcome: `in-state-${node.state}` });
      return;
    }
    const status = ev.build.status ?? 'UNKNOWN';
    const why = `${ev.name} #${ev.build.number} ${status}`;
    // onStarted may have been lost (a publisher restart): the build still ran, so the node is used.
    if (node.state === 'ready') await ctx.store.transitionNode(node.id, 'in-use', { from: ['ready'], reason: `${why} (onStarted missed)` });
    const used = node.state === 'used' ? node : await ctx.store.transitionNode(node.id, 'used', { reason: why });
    ctx.metrics.jobFinished(ev.name, node.state === 'in-use' ? ctx.clock.now() - node.stateTime : null);
    log.info({ status }, node.state === 'ready' ? 'node ready -> in-use -> used (onStarted missed)' : `node ${node.state} -> used`);
    // Rules stored with `nodepool job-create` come before the config's, so an operator can override one.
    const stored = (await ctx.store.listJobs()).map((j) => ({ name: j.name, 'hold-on-failure': j.holdOnFailure }));
    const rule = jobRule([...stored, ...ctx.config().jobs], ev.name);
    if (rule && rule['hold-on-failure'] > 0 && status !== 'SUCCESS') {
      const held = (await ctx.store.listNodes({ states: ['hold'] })).filter((n) => n.holdReason === `${HOLD_PREFIX}${ev.name}`).length;
      if (held < rule['hold-on-failure']) {
        const comment = `held: ${ev.name} #${ev.build.number} ${status} ${ev.build.full_url ?? ''}`.trim();
        await ctx.store.transitionNode(used.id, 'hold', { reason: comment, patch: { holdReason: `${HOLD_PREFIX}${ev.name}`, comment } });
        ctx.metrics.events.inc({ topic, outcome: 'held' });
        log.info({ status }, 'node used -> hold (hold-on-failure)');
        await takeNodeOffline(ctx, used, `nodepool: held, ${comment}`, 'hold', log);
        return;
      }
    }
    await ctx.store.transitionNode(used.id, 'deleting', { from: ['used'], reason: 'build finished' });
    ctx.metrics.events.inc({ topic, outcome: 'ok' });
    log.info('node used -> deleting');
    ctx.requestDelete(used.id);
  }

  private noteBuildNumber(job: string, n: number): void {
    if (!Number.isInteger(n)) return;
    const last = this.lastBuild.get(job);
    if (last !== undefined && n <= last) return;
    this.lastBuild.set(job, n);
    if (last !== undefined && n > last + 1) this.opts.onBuildGap?.(job, last, n);
  }
}

// Single use, enforced for held nodes: a node put on hold (by the operator through the CLI, which
// writes the store, or by hold-on-failure) leaves its master's schedulable set. The daemon calls
// pass() when the store changed; each held node is taken offline once per daemon run, and again
// on the next pass while its target has not acknowledged.
import { takeNodeOffline } from './build-events.js';
import type { PoolContext } from './context.js';
import { joined } from './joined.js';
import { nodeLogger } from './log.js';

export class HoldOffline {
  /** Held node ids whose target acknowledged. */
  private readonly done = new Set<number>();

  constructor(private readonly ctx: PoolContext) {}

  /** One pass; a pass already running is joined, not doubled. */
  readonly pass = joined(() => this.run());

  private async run(): Promise<void> {
    const held = await this.ctx.store.listNodes({ states: ['hold'] });
    const ids = new Set(held.map((n) => n.id));
    for (const id of this.done) if (!ids.has(id)) this.done.delete(id);
    for (const node of held) {
      if (this.done.has(node.id)) continue;
      const log = nodeLogger(this.ctx.log, node);
      if (await takeNodeOffline(this.ctx, node, `nodepool: held${node.comment ? `: ${node.comment}` : ''}`, 'hold', log)) this.done.add(node.id);
    }
  }
}

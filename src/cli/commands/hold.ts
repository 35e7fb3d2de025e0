// `nodepool hold ID`: keep a node for an operator to look at; the pool stops using it.
import type { Command } from 'commander';
import { NODE_STATES, canTransition } from '../../model.js';
import { parseDurationArg, parseId } from '../args.js';
import type { CliContext } from '../context.js';

const HOLDABLE = NODE_STATES.filter((s) => canTransition(s, 'hold'));

export function register(program: Command, ctx: CliContext): void {
  program
    .command('hold')
    .description('hold a node: it is not used or deleted until it expires or is deleted')
    .argument('<id>', 'node id', parseId)
    .option('--reason <text>', 'why it is held (shown in the Comment column)')
    .option('--expire <duration>', 'delete it after this long, e.g. "2h" or "1d"', parseDurationArg)
    .action(async (id: number, opts: { reason?: string; expire?: number }, cmd: Command) => {
      await ctx.withStore(cmd, async (store) => {
        const node = await store.getNode(id);
        if (!node) return cmd.error(`error: node ${id} not found`);
        const now = ctx.io.clock.now();
        const holdExpires = opts.expire === undefined ? null : now + opts.expire;
        const holdReason = opts.reason ?? 'held by operator';
        const until = holdExpires === null ? '' : ` until ${new Date(holdExpires).toISOString()}`;
        const patch = { holdReason, holdExpires, comment: `${holdReason}${until}` };
        if (node.state === 'hold') {
          // Holding again changes the reason and expiry (e.g. to extend it).
          await store.updateNode(id, patch);
        } else if (!HOLDABLE.includes(node.state)) {
          return cmd.error(`error: node ${id} is ${node.state}; only ${HOLDABLE.join(', ')} nodes can be held`);
        } else {
          // Compare-and-set: if the daemon moved it meanwhile, say so rather than hold the wrong thing.
          await store.transitionNode(id, 'hold', { from: [node.state], reason: `operator: ${holdReason}`, patch });
        }
        ctx.print(`node ${id} (${node.hostname}) held${until}`);
      });
    });
}

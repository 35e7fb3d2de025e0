// `nodepool hold ID`: keep a node for an operator to look at; the pool stops using it.
import type { Command } from 'commander';
import { holdNode, OperatorActionError } from '../../operator-actions.js';
import { parseDurationArg, parseId } from '../args.js';
import type { CliContext } from '../context.js';
import { nodeTable } from './list.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('hold')
    .description('hold a node: it is not used or deleted until it expires or is deleted')
    .argument('<id>', 'node id', parseId)
    .option('--reason <text>', 'why it is held (shown in the Comment column)')
    .option('--expire <duration>', 'delete it after this long, e.g. "2h" or "1d"', parseDurationArg)
    .action(async (id: number, opts: { reason?: string; expire?: number }, cmd: Command) => {
      await ctx.withStore(cmd, async (store) => {
        const held = await holdNode(store, id, { reason: opts.reason, expireMs: opts.expire ?? null, now: ctx.io.clock.now() }).catch((err) =>
          err instanceof OperatorActionError ? cmd.error(`error: ${err.message}`) : Promise.reject(err),
        );
        const until = held.holdExpires === null ? '' : ` until ${new Date(held.holdExpires).toISOString()}`;
        ctx.print(`node ${id} (${held.hostname}) held${until}`);
        // As 0.x did: the node's row, as list shows it.
        ctx.print(nodeTable([held], ctx.io.clock.now()));
      });
    });
}

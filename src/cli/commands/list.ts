// `nodepool list`: every node, as the original nodepool prints it.
import type { Command } from 'commander';
import { formatAge } from '../../duration.js';
import type { NodeRecord } from '../../model.js';
import type { CliContext } from '../context.js';
import { formatTable } from '../table.js';

export const NODE_COLUMNS = ['ID', 'Provider', 'AZ', 'Label', 'Target', 'Hostname', 'Server ID', 'IP', 'State', 'Age', 'Comment'] as const;

export function nodeTable(nodes: readonly NodeRecord[], now: number): string {
  return formatTable(
    NODE_COLUMNS,
    nodes.map((n) => [n.id, n.provider, n.az, n.label, n.target, n.hostname, n.serverId, n.ip, n.state, formatAge(now - n.stateTime), n.comment]),
  );
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('list')
    .description('list nodes (age is the time spent in the current state, DD:HH:MM:SS)')
    .option('--json', 'print a JSON array of node records')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const nodes = await ctx.withStore(cmd, (store) => store.listNodes());
      if (opts.json) ctx.printJson(nodes);
      else ctx.print(nodeTable(nodes, ctx.io.clock.now()));
    });
}

// `nodepool label-list`: per label, min-ready, nodes by state, demand and deficit (views.ts).
// Demand is known only to a running daemon: here it is blank (null in --json), as in its API.
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { formatTable } from '../table.js';
import { labelView, type LabelView } from '../../views.js';

export const LABEL_COLUMNS = ['Label', 'Min-ready', 'Ready', 'Building', 'In-use', 'Used', 'Hold', 'Deleting', 'Demand', 'Deficit', 'Providers'] as const;

export function labelTable(labels: readonly LabelView[]): string {
  return formatTable(
    LABEL_COLUMNS,
    labels.map((l) => [l.name, l.minReady, l.ready, l.building, l.inUse, l.used, l.hold, l.deleting, l.demand, l.deficit, l.providers.join(',')]),
  );
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('label-list')
    .description('labels: min-ready, nodes by state, demand and deficit')
    .option('--json', 'print a JSON array of label records')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const cfg = ctx.loadConfig(cmd);
      const nodes = await ctx.withStore(cmd, (store) => store.listNodes());
      const view = labelView(cfg, nodes);
      if (opts.json) ctx.printJson(view);
      else ctx.print(labelTable(view));
    });
}

// `nodepool provider-list`: per provider, max-servers, quota, nodes held by state, capacity,
// launches and rate (views.ts). Quota and launches are known only to a running daemon: blank
// here (null in --json), filled in by its /api/providers.
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { formatTable } from '../table.js';
import { providerView, type ProviderView } from '../../views.js';

export const PROVIDER_COLUMNS = ['Provider', 'Max-servers', 'Quota instances', 'Quota cores', 'Quota RAM MB', 'Held', 'Building', 'Ready', 'In-use', 'Used', 'Hold', 'Deleting', 'Capacity', 'Launching', 'Rate', 'Health'] as const;

export function providerTable(providers: readonly ProviderView[]): string {
  return formatTable(
    PROVIDER_COLUMNS,
    providers.map((p) => [
      p.name,
      p.maxServers,
      p.quota?.instances,
      p.quota?.cores,
      p.quota?.ramMb,
      p.held,
      p.nodes.building,
      p.nodes.ready,
      p.nodes['in-use'],
      p.nodes.used,
      p.nodes.hold,
      p.nodes.deleting,
      p.capacity,
      p.launching,
      `${p.rate}s`,
      p.health,
    ]),
  );
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('provider-list')
    .description('providers: max-servers, quota, nodes held by state, capacity and rate')
    .option('--json', 'print a JSON array of provider records')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const cfg = ctx.loadConfig(cmd);
      const nodes = await ctx.withStore(cmd, (store) => store.listNodes());
      const view = providerView(cfg, nodes);
      if (opts.json) ctx.printJson(view);
      else ctx.print(providerTable(view));
    });
}

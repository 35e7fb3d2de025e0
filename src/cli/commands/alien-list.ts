// `nodepool alien-list`: servers in our clouds that no node row owns (leaked, or not ours).
import type { Command } from 'commander';
import { createDriver } from '../../../providers/registry.js';
import type { CloudServer } from '../../../providers/provider.js';
import { silentLogger } from '../../log.js';
import type { NodeRecord } from '../../model.js';
import type { CliContext } from '../context.js';
import { formatTable } from '../table.js';

export interface Alien {
  provider: string;
  hostname: string;
  serverId: string;
  ip: string | null;
}

/** Servers matched by neither a node's server id nor its hostname. */
export function findAliens(provider: string, servers: readonly CloudServer[], nodes: readonly NodeRecord[]): Alien[] {
  const ids = new Set(nodes.map((n) => n.serverId).filter((id) => id !== null));
  const names = new Set(nodes.map((n) => n.hostname));
  return servers
    .filter((s) => !ids.has(s.id) && !names.has(s.name))
    .map((s) => ({ provider, hostname: s.name, serverId: s.id, ip: s.ip }));
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('alien-list')
    .description('list servers in the configured providers that no node owns')
    .option('--json', 'print a JSON array')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const config = ctx.loadConfig(cmd);
      const nodes = await ctx.withStore(cmd, (store) => store.listNodes());
      const aliens: Alien[] = [];
      for (const cfg of config.providers) {
        try {
          const driver = createDriver(cfg, { clock: ctx.io.clock, log: silentLogger });
          try {
            aliens.push(...findAliens(cfg.name, await driver.listServers(), nodes));
          } finally {
            await driver.close();
          }
        } catch (err) {
          // One unreachable cloud must not hide the others' aliens.
          ctx.io.err.write(`error: provider ${cfg.name}: ${err instanceof Error ? err.message : String(err)}\n`);
          ctx.exitCode = 1;
        }
      }
      if (opts.json) ctx.printJson(aliens);
      else ctx.print(formatTable(['Provider', 'Hostname', 'Server ID', 'IP'], aliens.map((a) => [a.provider, a.hostname, a.serverId, a.ip])));
    });
}

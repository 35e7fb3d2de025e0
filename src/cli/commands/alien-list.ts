// `nodepool alien-list`: servers in our clouds that no node row owns (leaked, or not ours).
import type { Command } from 'commander';
import type { CloudServer } from '../../../providers/provider.js';
import { knownDeploymentId } from '../../deployment-id.js';
import { silentLogger } from '../../log.js';
import { META_DEPLOYMENT, META_NODE_ID, META_OWNER, OWNER, type NodeRecord } from '../../model.js';
import { isOurs } from '../../reconcile.js';
import { listTargetAliens, type TargetAliensReport } from '../../targets/aliens.js';
import type { CliContext } from '../context.js';
import { fromEachCloud } from '../each-cloud.js';
import { formatTable } from '../table.js';

export interface Alien {
  provider: string;
  hostname: string;
  serverId: string;
  ip: string | null;
  /**
   * Whose it is, by its metadata: "foreign" (not nodepool-ts), "other deployment <id>" (another
   * nodepool-ts installation on the same project: theirs, leave it), "this deployment" (ours
   * without a row: the daemon deletes it as a leak), "nodepool-ts, no deployment id" (created
   * before deployment ids), or "deployment <id>" when this database's own id is not known.
   */
  owner: string;
  /** The server's nodepool-ts deployment id, if it carries one. */
  deployment: string | null;
}

function ownerOf(server: CloudServer, deploymentId: string | undefined): string {
  if (server.metadata[META_OWNER] !== OWNER) return 'foreign';
  const dep = server.metadata[META_DEPLOYMENT];
  if (dep === undefined) return 'nodepool-ts, no deployment id';
  if (deploymentId === undefined) return `deployment ${dep}`;
  return dep === deploymentId ? 'this deployment' : `other deployment ${dep}`;
}

/**
 * Servers no node row owns. A row owns the server whose id it recorded, or (a launch that never
 * recorded the id) the server with its hostname that carries our deployment id and its node id.
 */
export function findAliens(provider: string, servers: readonly CloudServer[], nodes: readonly NodeRecord[], deploymentId?: string): Alien[] {
  const ids = new Set(nodes.map((n) => n.serverId).filter((id) => id !== null));
  const byName = new Map(nodes.filter((n) => n.provider === provider).map((n) => [n.hostname, n]));
  const owned = (s: CloudServer) => {
    if (ids.has(s.id)) return true;
    const row = byName.get(s.name);
    return !!row && deploymentId !== undefined && isOurs(s, deploymentId, provider) && s.metadata[META_NODE_ID] === String(row.id);
  };
  return servers
    .filter((s) => !owned(s))
    .map((s) => ({ provider, hostname: s.name, serverId: s.id, ip: s.ip, owner: ownerOf(s, deploymentId), deployment: s.metadata[META_DEPLOYMENT] ?? null }));
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('alien-list')
    .description('list servers in the configured providers that no node owns')
    .option('--json', 'print a JSON array')
    .option('--targets', 'list agents on the configured masters that no node knows (listed, never touched)')
    .argument('[provider]', 'only this provider (as in Nodepool 0.x)')
    .action(async (provider: string | undefined, opts: { json?: boolean; targets?: boolean }, cmd: Command) => {
      const config = ctx.loadConfig(cmd);
      if (provider !== undefined && !config.providers.some((p) => p.name === provider)) {
        return cmd.error(`error: no provider ${provider} in ${ctx.globals(cmd).config} (it has ${config.providers.map((p) => p.name).join(', ')})`);
      }
      const { nodes, deploymentId } = await ctx.withStore(cmd, async (store) => ({
        nodes: await store.listNodes(),
        deploymentId: await knownDeploymentId(store, config['deployment-id']),
      }));
      if (opts.targets) return printTargetAliens(ctx, await listTargetAliens(config, nodes, { log: silentLogger, clock: ctx.io.clock }), opts.json);
      const providers = config.providers.filter((p) => provider === undefined || p.name === provider);
      const aliens = await fromEachCloud(ctx, providers, async (cfg, driver) => findAliens(cfg.name, await driver.listServers(), nodes, deploymentId));
      if (opts.json) ctx.printJson(aliens);
      else ctx.print(formatTable(['Provider', 'Hostname', 'Server ID', 'IP', 'Owner'], aliens.map((a) => [a.provider, a.hostname, a.serverId, a.ip, a.owner])));
    });
}

function printTargetAliens(ctx: CliContext, report: TargetAliensReport, json?: boolean): void {
  for (const name of report.skipped) ctx.io.err.write(`note: target ${name} cannot list its agents (a Gearman manager has no such request): skipped\n`);
  for (const f of report.failed) ctx.io.err.write(`error: target ${f.target}: ${f.error}\n`);
  if (report.failed.length) ctx.exitCode = 1;
  if (json) ctx.printJson(report.aliens);
  else ctx.print(formatTable(['Target', 'Agent', 'State', 'Labels', 'Description'], report.aliens.map((a) => [a.target, a.name, a.state, a.labels.join(' '), a.description])));
}

// `nodepool delete ID`: hand a node to the daemon's deleter, or with --now delete its server here.
import type { Command } from 'commander';
import { createDriver } from '../../../providers/registry.js';
import { createTarget } from '../../targets/registry.js';
import { knownDeploymentId } from '../../deployment-id.js';
import { NotFoundError } from '../../errors.js';
import { silentLogger } from '../../log.js';
import { META_NODE_ID, type NodeRecord } from '../../model.js';
import { isOurs } from '../../reconcile.js';
import type { Store } from '../../store/store.js';
import { markForDeletion, OperatorActionError } from '../../operator-actions.js';
import { parseId } from '../args.js';
import type { CliContext } from '../context.js';
import { nodeTable } from './list.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('delete')
    .description('delete a node (the daemon deletes it within a second)')
    .argument('<id>', 'node id', parseId)
    .option('--now', 'delete the server from this process and remove the node at once (works while the daemon is down)')
    .action(async (id: number, opts: { now?: boolean }, cmd: Command) => {
      await ctx.withStore(cmd, async (store) => {
        const node = await markForDeletion(store, id).catch((err) =>
          err instanceof OperatorActionError ? cmd.error(`error: ${err.message}`) : Promise.reject(err),
        );
        if (!opts.now) {
          ctx.print(`node ${id} (${node.hostname}) marked for deletion`);
          // As 0.x did: the node's row, as list shows it.
          ctx.print(nodeTable([node], ctx.io.clock.now()));
          return;
        }
        await deleteNow(ctx, cmd, store, node);
        ctx.print(`node ${id} (${node.hostname}) deleted`);
      });
    });
}

async function deleteNow(ctx: CliContext, cmd: Command, store: Store, node: NodeRecord): Promise<void> {
  // Progress on stderr (stdout keeps the one result line): each step may wait on a master or a cloud.
  const progress = (step: string) => void ctx.io.err.write(`node ${node.id}: ${step}\n`);
  const config = ctx.loadConfig(cmd);
  const cfg = config.providers.find((p) => p.name === node.provider);
  if (!cfg) return cmd.error(`error: node ${node.id}: provider ${node.provider} is not in ${ctx.globals(cmd).config}`);
  // Unregister first, as the daemon's deleter does, so the master sends it no build meanwhile.
  const targetCfg = config.targets.find((t) => t.name === node.target);
  if (targetCfg) {
    const target = createTarget(targetCfg, { gearmanServers: config['gearman-servers'], log: silentLogger, clock: ctx.io.clock });
    try {
      progress(`unregistering from ${target.name}`);
      await target.unregister(node);
    } catch (err) {
      ctx.io.err.write(`warning: node ${node.id}: could not unregister from ${target.name}: ${(err as Error).message}\n`);
    } finally {
      await target.close();
    }
  }
  const deploymentId = await knownDeploymentId(store, config['deployment-id']);
  const driver = createDriver(cfg, { clock: ctx.io.clock, log: silentLogger });
  try {
    // Without a server id the launch may have crashed between create and recording the id: the
    // server, if any, carries the node's hostname and our metadata (deployment and node id). A
    // same-named server of another installation on the project is not ours to delete.
    let ids = node.serverId ? [node.serverId] : [];
    if (!node.serverId && deploymentId) {
      const servers = await driver.listServers();
      ids = servers.filter((s) => s.name === node.hostname && isOurs(s, deploymentId, node.provider) && s.metadata[META_NODE_ID] === String(node.id)).map((s) => s.id);
    } else if (!node.serverId) {
      ctx.io.err.write(`warning: node ${node.id}: no deployment id known (none in the config or the database); servers are not searched by name\n`);
    }
    if (!ids.length) progress('no server to delete');
    for (const serverId of ids) {
      progress(`deleting server ${serverId} on ${node.provider}`);
      try {
        await driver.deleteServer(serverId);
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
      }
    }
  } finally {
    await driver.close();
  }
  await store.removeNode(node.id);
}

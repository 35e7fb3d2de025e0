// Image commands beside image-list: image-update (bake now, showing each step as it happens),
// image-delete, image-pause / image-unpause, alien-image-list. The daemon's builder does the
// work; these write to the store (image-actions.ts) and watch it.
import type { Command } from 'commander';
import type { CloudImage } from '../../../providers/provider.js';
import { knownDeploymentId } from '../../deployment-id.js';
import { markImageForDeletion, requestImageUpdate, setImagePaused } from '../../image-actions.js';
import { META_DEPLOYMENT, META_OWNER, OWNER, type ImageRecord } from '../../model.js';
import { OperatorActionError } from '../../operator-actions.js';
import type { Store } from '../../store/store.js';
import { parseId } from '../args.js';
import type { CliContext } from '../context.js';
import { fromEachCloud } from '../each-cloud.js';
import { formatTable } from '../table.js';

const POLL_MS = 250;

function refuse(cmd: Command) {
  return (err: unknown) => (err instanceof OperatorActionError ? cmd.error(`error: ${err.message}`) : Promise.reject(err));
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('image-update')
    .description('bake an image now (as the schedule would) and show each step until it is ready or failed')
    .argument('<provider>', 'provider name, or "all"')
    .argument('<image>', 'image name')
    .option('--no-wait', 'only ask the daemon; do not wait for the build')
    .option('--take-timeout <seconds>', 'how long the daemon may take to start the build', '30')
    .action(async (provider: string, image: string, opts: { wait: boolean; takeTimeout: string }, cmd: Command) => {
      const config = ctx.loadConfig(cmd);
      await ctx.withStore(cmd, async (store) => {
        const requests = await requestImageUpdate(store, config, provider, image).catch(refuse(cmd));
        if (!opts.wait) {
          for (const r of requests) ctx.print(`${r.provider} ${r.image}: build requested (request ${r.id})`);
          return;
        }
        const results = await Promise.all(requests.map((r) => followBuild(ctx, store, r.id, `${r.provider} ${r.image}`, Number(opts.takeTimeout) * 1000)));
        if (results.some((ok) => !ok)) ctx.exitCode = 1;
      });
    });

  program
    .command('image-delete')
    .description('delete an image (the daemon removes it from the cloud; the previous image becomes current)')
    .argument('<id>', 'image id (the ID column of image-list)', parseId)
    .action(async (id: number, _opts: unknown, cmd: Command) => {
      await ctx.withStore(cmd, async (store) => {
        const row = await markImageForDeletion(store, id).catch(refuse(cmd));
        ctx.print(`image ${id} (${row.provider} ${row.image} ${row.version}) marked for deletion`);
      });
    });

  for (const paused of [true, false]) {
    program
      .command(paused ? 'image-pause' : 'image-unpause')
      .description(paused ? 'stop scheduled builds of an image on every provider (image-update still works)' : 'resume scheduled builds of an image')
      .argument('<image>', 'image name')
      .option('--reason <text>', 'why (shown by image-list --json)')
      .action(async (image: string, opts: { reason?: string }, cmd: Command) => {
        const config = ctx.loadConfig(cmd);
        await ctx.withStore(cmd, (store) => setImagePaused(store, config, image, paused, opts.reason).catch(refuse(cmd)));
        ctx.print(`image ${image}: scheduled builds ${paused ? 'paused' : 'resumed'}`);
      });
  }

  program
    .command('alien-image-list')
    .description('list images in the clouds that carry nodepool-ts metadata but no image row owns')
    .argument('[provider]', 'only this provider')
    .option('--json', 'print a JSON array')
    .action(async (provider: string | undefined, opts: { json?: boolean }, cmd: Command) => {
      const config = ctx.loadConfig(cmd);
      const providers = config.providers.filter((p) => provider === undefined || p.name === provider);
      if (!providers.length) return cmd.error(`error: provider ${provider} is not configured`);
      const { rows, deploymentId } = await ctx.withStore(cmd, async (store) => ({ rows: await store.listImages(), deploymentId: await knownDeploymentId(store, config['deployment-id']) }));
      const aliens = await fromEachCloud(ctx, providers, async (cfg, driver) => findAlienImages(cfg.name, await driver.listImages(), rows, deploymentId));
      if (opts.json) ctx.printJson(aliens);
      else ctx.print(formatTable(['Provider', 'Name', 'Image ID', 'State', 'Owner'], aliens.map((a) => [a.provider, a.name, a.imageId, a.state, a.owner])));
    });
}

/**
 * Waits for the daemon to take the request, then prints each step of the build as the store
 * shows it. True when the build ends ready.
 */
async function followBuild(ctx: CliContext, store: Store, requestId: number, what: string, takeTimeoutMs: number): Promise<boolean> {
  const clock = ctx.io.clock;
  const askedAt = clock.now();
  let rowId: number | null = null;
  while (rowId === null) {
    rowId = (await store.getImageRequest(requestId))?.imageId ?? null;
    if (rowId !== null) break;
    if (clock.now() - askedAt > takeTimeoutMs) {
      ctx.io.err.write(`error: ${what}: the daemon did not start the build within ${takeTimeoutMs / 1000} s; is \`nodepool daemon\` running on this database? (the request stays queued)\n`);
      return false;
    }
    await clock.sleep(POLL_MS);
  }
  if (rowId === 0) {
    ctx.io.err.write(`error: ${what}: the daemon does not bake this image (its config differs from this one?)\n`);
    return false;
  }
  let shown = '';
  for (;;) {
    const row: ImageRecord | undefined = await store.getImage(rowId);
    if (!row) {
      ctx.io.err.write(`error: ${what}: build ${rowId} was removed\n`);
      return false;
    }
    const end = row.state === 'ready' ? `ready in ${Math.round((row.stateTime - row.created) / 1000)} s` : `${row.state}${row.reason ? ` (${row.reason})` : ''}`;
    const line = `build ${row.id} (${row.version}): ${row.state === 'building' ? (row.step ?? 'starting') : end}`;
    if (line !== shown) ctx.print(`${what} ${line}`);
    shown = line;
    if (row.state !== 'building') return row.state === 'ready';
    await clock.sleep(POLL_MS);
  }
}

export interface AlienImage {
  provider: string;
  name: string;
  imageId: string;
  state: CloudImage['status'];
  /** "this deployment" (the daemon deletes it as a leak), "other deployment ID" (theirs), or "nodepool-ts, no deployment id". */
  owner: string;
}

/** Images carrying our product marker that no image row of this provider recorded. Pure. */
export function findAlienImages(provider: string, images: readonly CloudImage[], rows: readonly ImageRecord[], deploymentId?: string): AlienImage[] {
  const owned = new Set(rows.filter((r) => r.provider === provider && r.externalId).map((r) => r.externalId));
  return images
    .filter((i) => i.metadata[META_OWNER] === OWNER && !owned.has(i.id))
    .map((i) => {
      const dep = i.metadata[META_DEPLOYMENT];
      const owner = dep === undefined ? 'nodepool-ts, no deployment id' : deploymentId === undefined ? `deployment ${dep}` : dep === deploymentId ? 'this deployment' : `other deployment ${dep}`;
      return { provider, name: i.name, imageId: i.id, state: i.status, owner };
    });
}

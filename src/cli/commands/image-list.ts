// `nodepool image-list`: images the builder made, per provider, with the 0.x columns plus why a
// build failed and the step a running build is at.
import type { Command } from 'commander';
import { formatAge } from '../../duration.js';
import type { ImageRecord } from '../../model.js';
import type { CliContext } from '../context.js';
import { formatTable } from '../table.js';

export const IMAGE_COLUMNS = ['ID', 'Provider', 'Image', 'Hostname', 'Version', 'Image ID', 'Server ID', 'State', 'Age', 'Reason'] as const;

export function imageTable(images: readonly ImageRecord[], now: number): string {
  return formatTable(
    IMAGE_COLUMNS,
    images.map((i) => [
      i.id,
      i.provider,
      i.image,
      i.hostname,
      i.version,
      i.externalId,
      i.serverId,
      i.state === 'building' && i.step ? `building (${i.step})` : i.state,
      formatAge(now - i.stateTime),
      i.reason,
    ]),
  );
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('image-list')
    .description('list images (age is the time spent in the current state)')
    .option('--json', 'print a JSON array of image records')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const images = await ctx.withStore(cmd, (store) => store.listImages());
      if (opts.json) ctx.printJson(images);
      else ctx.print(imageTable(images, ctx.io.clock.now()));
    });
}

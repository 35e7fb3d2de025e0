// `nodepool image-list`: images the builder made, per provider.
import type { Command } from 'commander';
import { formatAge } from '../../duration.js';
import type { ImageRecord } from '../../model.js';
import type { CliContext } from '../context.js';
import { formatTable } from '../table.js';

export const IMAGE_COLUMNS = ['ID', 'Provider', 'Image', 'Version', 'Image ID', 'State', 'Age'] as const;

export function imageTable(images: readonly ImageRecord[], now: number): string {
  return formatTable(
    IMAGE_COLUMNS,
    images.map((i) => [i.id, i.provider, i.image, i.version, i.externalId, i.state, formatAge(now - i.stateTime)]),
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

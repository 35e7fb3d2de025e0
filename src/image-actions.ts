// What an operator's image-update, image-delete and image-pause do, from the CLI (another
// process, on the store) or the daemon's HTTP API. The daemon's builder acts on what they write.
import type { Config } from './config.js';
import { OperatorActionError } from './operator-actions.js';
import type { ImageRecord, ImageRequest } from './model.js';
import type { Store } from './store/store.js';

/** The providers whose `image` has a setup script to bake: one, or every one for `all`. */
export function bakeTargets(cfg: Config, provider: string, image: string): string[] {
  const names = cfg.providers.filter((p) => (provider === 'all' || p.name === provider) && p.images.some((i) => i.name === image && i.setup)).map((p) => p.name);
  if (names.length) return names;
  if (provider !== 'all' && !cfg.providers.some((p) => p.name === provider)) throw new OperatorActionError(`provider ${provider} is not configured`, 'not-found');
  throw new OperatorActionError(`${provider === 'all' ? 'no provider' : `provider ${provider}`} has an image ${image} with a setup script to bake`, 'not-found');
}

/** Asks the daemon to bake `image` now on `provider` (or `all`); one request per provider. */
export async function requestImageUpdate(store: Store, cfg: Config, provider: string, image: string): Promise<ImageRequest[]> {
  const out: ImageRequest[] = [];
  for (const name of bakeTargets(cfg, provider, image)) out.push(await store.requestImageBuild(name, image));
  return out;
}

/**
 * Marks an image for deletion: the daemon deletes it from the cloud and removes the row (a bake
 * in progress is stopped and cleans up after itself). The previous ready image becomes current.
 */
export async function markImageForDeletion(store: Store, id: number): Promise<ImageRecord> {
  const row = await store.getImage(id);
  if (!row) throw new OperatorActionError(`image ${id} not found`, 'not-found');
  if (row.state === 'deleting') return row;
  return store.transitionImage(id, 'deleting', { reason: 'operator: image-delete' });
}

/** Pauses (or resumes) scheduled builds of a configured image name on every provider. */
export async function setImagePaused(store: Store, cfg: Config, image: string, paused: boolean, reason?: string): Promise<void> {
  if (!cfg.providers.some((p) => p.images.some((i) => i.name === image))) throw new OperatorActionError(`no provider has an image ${image}`, 'not-found');
  if (paused) await store.pauseImage(image, reason ?? null);
  else await store.unpauseImage(image);
}
